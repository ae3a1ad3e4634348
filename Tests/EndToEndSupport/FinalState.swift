import Crypto
import Foundation
import GRDB
import PipelineCore
import PipelineDatabase
import Testing
import TestSupport

/// What a run left behind, read the way a user would look: `GET /etl_runs`, the SQLite tables,
/// and the files on the SFTP server; compared with an undisturbed run's.
///
/// Two runs of the same fixture differ only in their run id and their timestamps (`run_id`,
/// `extracted_at`, `transformed_at`, `inserted_at`…), which have fixed widths. So each part is
/// kept *normalised*: run ids read `RUN` and timestamps `TS`, and then everything must be equal
/// byte for byte: row counts, the rows of every table, every file's size and content, the
/// manifest's counts. The raw file holds neither and is compared by its real SHA-256.
///
/// ``problems`` collects what is wrong within one run's state whatever the scenario: a file
/// whose SHA-256 differs from the manifest's or the API's, a `.part` left on the server or in
/// staging, a run the API does not show as the ledger does.
package struct FinalState: Equatable, CustomStringConvertible {
    /// Per run in `GET /etl_runs`, newest first: status, failed phase and counts.
    package var runs: [String] = []
    /// Rows per table, all runs.
    package var rows: [String: Int] = [:]
    /// SHA-256 of each table's normalised rows, sorted (`raw_users`, `users`, `dlq_records`).
    package var tables: [String: String] = [:]
    /// The files on the server: normalised name → size and SHA-256 of the normalised content.
    package var files: [String: String] = [:]
    /// The real SHA-256 of `<run>_raw.jsonl` on the server (it has no run id or timestamp).
    package var rawSHA256: String?
    /// The manifest's counts and files (normalised name, rows, bytes).
    package var manifest: String?

    /// Inconsistencies within this state; not part of the comparison.
    package var problems: [String] = []
    /// Plain name → SHA-256 of the plaintext of an encrypted file; not part of the comparison.
    package var decrypted: [String: String] = [:]

    package static func == (a: FinalState, b: FinalState) -> Bool {
        (a.runs, a.rows, a.tables, a.files, a.rawSHA256, a.manifest) == (b.runs, b.rows, b.tables, b.files, b.rawSHA256, b.manifest)
    }

    package var description: String {
        var lines = ["runs: \(runs)", "rows: \(rows.sorted { $0.key < $1.key })"]
        lines += tables.sorted { $0.key < $1.key }.map { "table \($0.key): \($0.value)" }
        lines += files.sorted { $0.key < $1.key }.map { "file \($0.key): \($0.value)" }
        lines += ["raw sha256: \(rawSHA256 ?? "-")", "manifest: \(manifest ?? "-")"]
        if !problems.isEmpty { lines += ["problems:"] + problems.map { "  \($0)" } }
        return lines.joined(separator: "\n")
    }

    /// Reads the state of `pipeline` (the API must be running).
    package static func capture(_ pipeline: Pipeline) async throws -> FinalState {
        var state = FinalState()

        // GET /etl_runs, as a user calls it.
        let apiRuns = try await pipeline.getJSON(pipeline.apiURL + "/etl_runs") as? [[String: Any]] ?? []
        var apiRemote: [String: String] = [:]
        /// Plain name → SHA-256 of the encrypted file on the server.
        var encryptedOnServer: [String: String] = [:]
        for run in apiRuns {
            let counts = run["counts"] as? [String: Any] ?? [:]
            let described = ["extracted", "valid", "invalid", "loaded"].map { "\($0)=\(counts[$0] as? Int ?? -1)" }
            state.runs.append("\(run["status"] as? String ?? "?") failed_phase=\(run["failed_phase"] as? String ?? "-") " + described.joined(separator: " "))
            for file in run["remote_files"] as? [[String: Any]] ?? [] {
                if let name = file["name"] as? String, let sha = file["sha256"] as? String { apiRemote[name] = sha }
            }
        }
        let ledgerRuns = try await pipeline.runIDs()
        if Set(apiRuns.compactMap { $0["run_id"] as? String }) != Set(ledgerRuns.map(\.rawValue)) {
            state.problems.append("GET /etl_runs shows \(apiRuns.compactMap { $0["run_id"] }) but the ledger has \(ledgerRuns)")
        }

        // The tables.
        if FileManager.default.fileExists(atPath: pipeline.databasePath) {
            let reader = try PipelineDatabase.openReader(path: pipeline.databasePath)
            let (rows, tables) = try await reader.read { db in
                var rows: [String: Int] = [:]
                var tables: [String: String] = [:]
                for table in ["etl_runs", "raw_users", "users", "dlq_records"] {
                    rows[table] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
                }
                for table in ["raw_users", "users", "dlq_records"] {
                    let lines = try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map { row in
                        normalise(row.columnNames.map { "\($0)=\(row[$0] as DatabaseValue)" }.joined(separator: "|"))
                    }.sorted()
                    tables[table] = sha256(Array(lines.joined(separator: "\n").utf8))
                }
                return (rows, tables)
            }
            state.rows = rows
            state.tables = tables
            try reader.close()
        }

        // The server's upload/ directory, on disk.
        let upload = pipeline.uploadDirectory
        // The manifest last: it is checked against the other files.
        let stored = (try? FileManager.default.contentsOfDirectory(atPath: upload)) ?? []
        let manifestLast = stored.sorted { ($0.hasSuffix("_manifest.json") ? 1 : 0, $0) < ($1.hasSuffix("_manifest.json") ? 1 : 0, $1) }
        for stored in manifestLast {
            var name = stored
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: upload + "/" + stored)))
            var actual = sha256(bytes)
            // An encrypted file is checked as stored (against the API and the manifest's
            // ciphertext), then compared by what the age tool decrypts it to, under its plain name.
            if stored.hasSuffix(".age") {
                if let listed = apiRemote[stored], listed != actual {
                    state.problems.append("\(stored): SHA-256 \(actual) on the server, \(listed) in GET /etl_runs")
                }
                encryptedOnServer[String(stored.dropLast(4))] = actual
                guard let identity = pipeline.ageIdentity else {
                    state.problems.append("\(stored): encrypted, but the pipeline was not")
                    continue
                }
                bytes = [UInt8](try await AgeTool.plaintext(of: upload + "/" + stored, identity: identity))
                name = String(stored.dropLast(4))
                actual = sha256(bytes)
                apiRemote[name] = nil
            } else if pipeline.ageIdentity != nil, !stored.hasSuffix("_manifest.json") {
                state.problems.append("\(stored): not encrypted, but the pipeline was")
            }
            if name.hasSuffix(".part") { state.problems.append("left on the server: \(name)") }
            // The manifest lists the other files' real checksums, which differ between runs:
            // its content is compared through ``manifest``, and checked against those files below.
            state.files[normalise(name)] = name.hasSuffix("_manifest.json")
                ? "bytes=\(withoutEncryption(bytes).count)"
                : "bytes=\(bytes.count) normalised_sha256=\(sha256(Array(normalise(String(decoding: bytes, as: UTF8.self)).utf8)))"
            if name.hasSuffix("_raw.jsonl") { state.rawSHA256 = actual }
            if stored != name { state.decrypted[name] = actual }
            if let listed = apiRemote[name], listed != actual {
                state.problems.append("\(name): SHA-256 \(actual) on the server, \(listed) in GET /etl_runs")
            }
            if name.hasSuffix("_manifest.json") {
                let manifest = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] ?? [:]
                var entries: [String] = []
                for file in manifest["files"] as? [[String: Any]] ?? [] {
                    var fileName = file["name"] as? String ?? "?"
                    if fileName.hasSuffix(".age") {
                        fileName = String(fileName.dropLast(4))
                        let listed = (file["ciphertext"] as? [String: Any])?["sha256"] as? String
                        if listed == nil || listed != encryptedOnServer[fileName] {
                            state.problems.append("\(fileName).age: SHA-256 \(encryptedOnServer[fileName] ?? "missing") on the server, ciphertext \(listed ?? "-") in the manifest")
                        }
                    }
                    entries.append("\(normalise(fileName)) rows=\(file["rows"] as? Int ?? -1) bytes=\(file["bytes"] as? Int ?? -1)")
                    let onServer = encryptedOnServer[fileName] != nil
                        ? state.decrypted[fileName]
                        : (try? Data(contentsOf: URL(fileURLWithPath: upload + "/" + fileName))).map { sha256([UInt8]($0)) }
                    if onServer != file["sha256"] as? String {
                        state.problems.append("\(fileName): SHA-256 \(onServer ?? "missing") on the server, \(file["sha256"] ?? "-") in the manifest")
                    }
                }
                let counts = (manifest["counts"] as? [String: Int] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                state.manifest = "status=\(manifest["status"] as? String ?? "?") counts=\(counts.joined(separator: ",")) files=\(entries)"
            }
        }

        // Staging: nothing half-written may remain once the run is over.
        if let runs = FileManager.default.enumerator(atPath: pipeline.layout.runsDirectory) {
            for case let path as String in runs where path.hasSuffix(".part") {
                state.problems.append("left in staging: \(path)")
            }
        }
        return state
    }

    /// A manifest without what only an encrypted run's has (each file's `ciphertext`, the
    /// `encryption` entry, `.age` in the names): the same bytes as a plain run's manifest.
    package static func withoutEncryption(_ manifest: [UInt8]) -> [UInt8] {
        let text = String(decoding: manifest, as: UTF8.self)
            .replacingOccurrences(of: #""ciphertext":\{[^}]*\},"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: #""encryption":\{[^}]*\},"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: ".jsonl.age\"", with: ".jsonl\"")
        return Array(text.utf8)
    }

    /// Run ids → `RUN`, ISO 8601 timestamps → `TS`: what differs between two runs of the same data.
    package static func normalise(_ text: String) -> String {
        var result = text
        for (pattern, replacement) in normalisations {
            result = pattern.stringByReplacingMatches(
                in: result, range: NSRange(result.startIndex..., in: result), withTemplate: replacement)
        }
        return result
    }

    private static let normalisations: [(NSRegularExpression, String)] = [
        (try! NSRegularExpression(pattern: #"\d{8}T\d{6}Z-[0-9a-f]{4}"#), "RUN"),
        (try! NSRegularExpression(pattern: #"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"#), "TS"),
    ]

    package static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

/// The final state of an undisturbed run of the fixture, made once per test process and shared
/// by every scenario that must end the same way.
package actor ReferenceRun {
    package static let shared = ReferenceRun()
    private var made: FinalState?
    /// How many bad rows the fixture says it served in that run.
    package private(set) var badRows = -1

    package func state() async throws -> FinalState {
        if let made { return made }
        let (state, badRows) = try await Self.make()
        made = state
        self.badRows = badRows
        return state
    }

    private static func make() async throws -> (FinalState, Int) {
        try await Pipeline.run { pipeline in
            let badRows = try await pipeline.fixtureInfo().badCount
            try await pipeline.startDownstream()
            let extractor = try await pipeline.extractOnce()
            guard extractor.exitStatus == 0 else { throw ChildProcessError("the undisturbed extraction failed:\n\(extractor.tail())") }
            let id = try await pipeline.onlyRun()
            try await pipeline.waitFor(id, [.completed, .failed])
            return (try await FinalState.capture(pipeline), badRows)
        }
    }
}

extension Pipeline {
    /// Reads the final state and expects it whole (no ``FinalState/problems``) and equal to the
    /// undisturbed run's: nothing lost, nothing duplicated.
    @discardableResult
    package func expectSameEnd(as reference: FinalState, sourceLocation: SourceLocation = #_sourceLocation) async throws -> FinalState {
        let state = try await FinalState.capture(self)
        #expect(state.problems.isEmpty, "\(state)", sourceLocation: sourceLocation)
        #expect(state == reference, "\(state)\n--- undisturbed ---\n\(reference)", sourceLocation: sourceLocation)
        return state
    }
}
