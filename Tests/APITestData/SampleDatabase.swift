import Foundation
import GRDB
import PipelineCore
import PipelineDatabase

/// Writes ``SampleRun``s into a database the way DESIGN.md §6 has the saver do it: through
/// `PipelineDatabase.openWriter`, one transaction per staged file in order (raw rows, users,
/// DLQ rows), then the run row with its events, each idempotent per run.
///
/// This stands in for the saver's loader, which is being written in parallel. When it lands,
/// replace the body of ``write(_:to:)`` with: write each run's lines to
/// `DATA_DIR/runs/<run_id>/{raw.masked,users,dlq}.jsonl` and call the saver's loader; the
/// tests and tools that use this type need no change.
public enum SampleDatabase {
    /// Creates (or adds to) the database at `path` and closes it again, keeping `-wal`/`-shm`.
    public static func write(_ runs: [SampleRun], to path: String) throws {
        let pool = try PipelineDatabase.openWriter(path: path)
        for run in runs {
            try load(run, into: pool)
        }
        try pool.close()
    }

    /// The generator's default runs (see ``SampleRunGenerator``), written to `path`.
    @discardableResult
    public static func write(runCount: Int, usersPerRun: Int = 12, seed: UInt64 = 42, to path: String) throws -> [SampleRun] {
        let runs = SampleRunGenerator(seed: seed, usersPerRun: usersPerRun).runs(count: runCount)
        try write(runs, to: path)
        return runs
    }

    static func load(_ run: SampleRun, into pool: DatabasePool) throws {
        let id = run.runID.rawValue
        let now = Timestamp.format(run.finishedAt ?? run.startedAt)

        if !run.rawMaskedLines.isEmpty {
            try pool.write { db in
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO raw_users (run_id, line, user_id, payload, inserted_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (run_id, line) DO NOTHING
                    """)
                for (offset, line) in run.rawMaskedLines.enumerated() {
                    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed]) as? [String: Any]
                    let userID = (object?["id"] as? Int).flatMap { $0 > 0 ? $0 : nil }
                    try insert.execute(arguments: [id, offset + 1, userID, line, now])
                }
            }
        }

        if !run.userLines.isEmpty {
            try pool.write { db in
                // Upsert by id; a row whose record_hash is unchanged keeps its run_id and updated_at.
                let upsert = try db.cachedStatement(sql: """
                    INSERT INTO users (id, run_id, full_name, email, email_domain, age, age_group, department, department_code,
                                       bmi, bmi_category, birth_date, record_hash, payload, inserted_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET
                        run_id = excluded.run_id, full_name = excluded.full_name, email = excluded.email,
                        email_domain = excluded.email_domain, age = excluded.age, age_group = excluded.age_group,
                        department = excluded.department, department_code = excluded.department_code, bmi = excluded.bmi,
                        bmi_category = excluded.bmi_category, birth_date = excluded.birth_date,
                        record_hash = excluded.record_hash, payload = excluded.payload, updated_at = excluded.updated_at
                    WHERE users.record_hash != excluded.record_hash
                    """)
                for line in run.userLines {
                    guard let user = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
                    let company = user["company"] as? [String: Any]
                    try upsert.execute(arguments: [
                        user["id"] as? Int, id, user["full_name"] as? String, user["email"] as? String,
                        user["email_domain"] as? String, user["age"] as? Int, user["age_group"] as? String,
                        company?["department"] as? String, user["department_code"] as? String, user["bmi"] as? Double,
                        user["bmi_category"] as? String, user["birth_date"] as? String, user["record_hash"] as? String,
                        line, now, now,
                    ])
                }
            }
        }

        if !run.dlqLines.isEmpty {
            try pool.write { db in
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO dlq_records (run_id, line, reasons, payload, inserted_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (run_id, line) DO NOTHING
                    """)
                for line in run.dlqLines {
                    guard let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
                    let reasons = try JSONSerialization.data(withJSONObject: record["reasons"] ?? [], options: [.sortedKeys])
                    let payload = try JSONSerialization.data(
                        withJSONObject: record["payload"] ?? NSNull(), options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
                    try insert.execute(arguments: [
                        id, record["line"] as? Int, String(decoding: reasons, as: UTF8.self), String(decoding: payload, as: UTF8.self), now,
                    ])
                }
            }
        }

        try pool.write { db in
            let staged = run.stagedFiles.map { ["path": $0.path, "rows": $0.rows, "bytes": $0.bytes, "sha256": $0.sha256] as [String: Any] }
            let remote = run.remoteFiles.map { ["name": $0.name, "rows": $0.rows, "bytes": $0.bytes, "sha256": $0.sha256] as [String: Any] }
            try db.execute(
                sql: """
                    INSERT INTO etl_runs (run_id, status, failed_phase, error, started_at, finished_at, duration_ms,
                                          extracted, valid, invalid, loaded, unknown_department, staged_files, remote_files, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (run_id) DO UPDATE SET
                        status = excluded.status, failed_phase = excluded.failed_phase, error = excluded.error,
                        finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, extracted = excluded.extracted,
                        valid = excluded.valid, invalid = excluded.invalid, loaded = excluded.loaded,
                        unknown_department = excluded.unknown_department, staged_files = excluded.staged_files,
                        remote_files = excluded.remote_files, updated_at = excluded.updated_at
                    """,
                arguments: [
                    id, run.status.rawValue, run.failedPhase?.rawValue, run.error, Timestamp.format(run.startedAt),
                    run.finishedAt.map(Timestamp.format), run.durationMS, run.counts.extracted, run.counts.valid, run.counts.invalid,
                    run.counts.loaded, run.counts.unknownDepartment, try json(staged), try json(remote), now,
                ])
            try db.execute(sql: "DELETE FROM etl_run_events WHERE run_id = ?", arguments: [id])
            for event in run.events {
                try db.execute(
                    sql: "INSERT INTO etl_run_events (run_id, at, stage, event, detail) VALUES (?, ?, ?, ?, ?)",
                    arguments: [id, Timestamp.format(event.at), event.stage, event.event, event.detail])
            }
        }
    }

    private static func json(_ value: [[String: Any]]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }
}
