import EndToEndSupport
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

extension Pipeline {
    /// The floor: the run's bytes moved again by standard tools started together, once the stages
    /// stopped: curl fetching every page from the fixture (8 at a time), the sqlite3 CLI loading
    /// the run's three files into a fresh database with the pipeline's schema and page size (the
    /// saver's JSON extraction, one INSERT … SELECT per table), and OpenSSH's sftp uploading them
    /// to the same server. Its wall time is when the last one exits. The files are the uploaded
    /// ones (`<run>_raw.jsonl` is the staged `raw.masked.jsonl`): the same bytes as the staged.
    func floor(run: String, users: Int, timeout: Double) async throws -> [String: Any] {
        let files = [("raw.masked.jsonl", "raw.jsonl"), ("users.jsonl", "users.jsonl"), ("dlq.jsonl", "dlq.jsonl")]
            .map { (name: $0.0, path: "\(uploadDirectory)/\(run)_\($0.1)") }
        let dir = directory.file("floor")
        try FileManager.default.createDirectory(atPath: dir + "/pages", withIntermediateDirectories: true)
        try stride(from: 0, to: users, by: 100).enumerated().map { n, skip in
            "url = \"\(fixtureURL)/users?limit=100&skip=\(skip)\"\noutput = \"\(dir)/pages/\(n).json\"\n"
        }.joined().write(toFile: dir + "/curl.cfg", atomically: true, encoding: .utf8)
        let schema = try await runCommand("sqlite3", [databasePath, ".schema"]).split(separator: "\n")
            .filter { !$0.contains("grdb_migrations") && !$0.contains("sqlite_sequence") }.joined(separator: "\n")
        let pageSize = try await runCommand("sqlite3", [databasePath, "PRAGMA page_size"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let at = ISO8601DateFormatter().string(from: Date())
        try """
            PRAGMA page_size = \(pageSize);
            \(schema)
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            CREATE TEMP TABLE raw_lines (line TEXT);
            CREATE TEMP TABLE user_lines (line TEXT);
            CREATE TEMP TABLE dlq_lines (line TEXT);
            .mode ascii
            .separator "\\037" "\\n"
            .import \(files[0].path) raw_lines
            .import \(files[1].path) user_lines
            .import \(files[2].path) dlq_lines
            INSERT INTO raw_users (run_id, line, user_id, payload, inserted_at)
              SELECT 'floor', rowid, CASE WHEN json_type(line, '$.id') = 'integer' AND json_extract(line, '$.id') > 0
                                      THEN json_extract(line, '$.id') END, line, '\(at)' FROM raw_lines;
            INSERT INTO users (id, run_id, full_name, email, email_domain, age, age_group, department, department_code,
                               bmi, bmi_category, birth_date, record_hash, payload, inserted_at, updated_at, last_seen_run_id)
              SELECT line ->> '$.id', 'floor', line ->> '$.full_name', line ->> '$.email', line ->> '$.email_domain',
                     line ->> '$.age', line ->> '$.age_group', line ->> '$.company.department', line ->> '$.department_code',
                     line ->> '$.bmi', line ->> '$.bmi_category', line ->> '$.birth_date', line ->> '$.record_hash', line,
                     '\(at)', '\(at)', 'floor' FROM user_lines WHERE true
              ON CONFLICT (id) DO UPDATE SET payload = excluded.payload, updated_at = excluded.updated_at;
            INSERT INTO dlq_records (run_id, line, reasons, payload, inserted_at)
              SELECT 'floor', line ->> '$.line', line -> '$.reasons', line -> '$.payload', '\(at)' FROM dlq_lines;

            """.write(toFile: dir + "/load.sql", atomically: true, encoding: .utf8)
        try files.map { "put \($0.path) upload/floor_\($0.name)\n" }.joined().write(toFile: dir + "/sftp.batch", atomically: true, encoding: .utf8)
        let commands = [
            ("curl", "/usr/bin/curl", ["-sS", "--fail", "--parallel", "--parallel-max", "8", "-K", dir + "/curl.cfg"]),
            ("sqlite3", "/usr/bin/sqlite3", ["-bail", dir + "/floor.db", ".read \(dir)/load.sql"]),
            ("sftp", "/usr/bin/sftp", ["-q", "-b", dir + "/sftp.batch", "-i", sftp.privateKeyPath, "-o", "UserKnownHostsFile=\(knownHostsPath)",
                                       "-o", "BatchMode=yes", "-P", String(sftp.port), "\(sftp.user)@127.0.0.1"]),
        ]
        sync()  // as before the run: no writeback of its files inside the floor's fsyncs
        let t0 = ContinuousClock.now
        let running = try commands.map { name, executable, arguments in
            try ChildProcess(name: name, executable: executable, arguments: arguments, environment: [:], logPath: "\(dir)/\(name).log")
        }
        var seconds: [String: Double] = [:]
        while seconds.count < running.count {
            for tool in running where seconds[tool.name] == nil && !tool.isRunning {
                seconds[tool.name] = rounded((ContinuousClock.now - t0).seconds, 3)
                guard tool.exitStatus == 0 else { throw ChildProcessError("floor: \(tool.name) exited with \(tool.exitStatus!): \(tool.tail(5))") }
            }
            guard ContinuousClock.now - t0 < .seconds(timeout) else {
                running.forEach { $0.killNow() }
                throw ChildProcessError("floor: not done after \(timeout) s")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        let wall = (ContinuousClock.now - t0).seconds
        let loaded = try await runCommand("sqlite3", [dir + "/floor.db", "SELECT (SELECT count(*) FROM raw_users) || ' ' || "
            + "(SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM dlq_records)"]).split(whereSeparator: \.isWhitespace).map { Int($0) ?? -1 }
        let pages = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/pages")) ?? []
        return [
            "wall_s": rounded(wall, 3), "tool_s": seconds, "pages": pages.count,
            "page_bytes": pages.reduce(0) { $0 + fileSize("\(dir)/pages/\($1)") },
            "rows": ["raw": loaded[0], "users": loaded[1], "dlq": loaded[2]],
            "uploaded_bytes": files.reduce(0) { $0 + fileSize($1.path) },
        ]
    }
}
