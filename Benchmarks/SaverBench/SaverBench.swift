// SaverBench: how fast the saver's transactions load a run into SQLite. Writes a synthetic run
// of N users rows in the staging format of docs/STAGING.md, then times the three loading
// transactions of SaverStore (raw rows, users upsert, DLQ rows) into a fresh database file, and
// the users upsert again on a database that already holds every user (the update path).
import ArgumentParser
import Foundation
import PipelineCore
import SaverCore

@main
struct SaverBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "SaverBench",
        abstract: "Times the saver's SQLite transactions on a synthetic run and prints rows/s.",
        discussion: "The last line is machine-readable: RESULT rows=N raw_rows_s=… users_insert_rows_s=… users_update_rows_s=… dlq_rows_s=…")

    @Option(help: "Rows in users.jsonl and raw.masked.jsonl.")
    var rows = 100_000

    @Option(help: "Rows in dlq.jsonl.")
    var dlqRows = 10_000

    @Option(help: "Where to put the staged files and the database (a fresh temporary directory by default; removed afterwards).")
    var directory: String?

    func run() async throws {
        let root = directory ?? NSTemporaryDirectory() + "saver-bench-\(UUID().uuidString.prefix(8))"
        defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
        let run = RunID()
        let layout = StagingLayout(dataDirectory: root + "/data")
        let generated = ContinuousClock.now
        let files = try Self.stage(run, layout: layout, rows: rows, dlqRows: dlqRows)
        print("staged \(rows) users rows (\(files.users.bytes / 1_048_576) MiB), \(dlqRows) DLQ rows in \(Self.seconds(ContinuousClock.now - generated)) s")

        let store = SaverStore(database: try await Saver.openDatabase(path: root + "/database/data.db"))
        let stamp = Timestamp.format(Date())
        let raw = try await store.replaceRawRows(run: run, lines: 1...max(rows, 1), file: files.raw, insertedAt: stamp)
        report("raw_users (insert)", raw)
        let inserted = try await store.upsertUsers(run: run, file: files.users, at: stamp)
        report("users (upsert, all new)", inserted)
        let updated = try await store.upsertUsers(run: run, file: files.users, at: stamp)
        report("users (upsert, all known)", updated)
        let dlq = try await store.replaceDLQRows(run: run, lines: 1...max(rows, 1), file: files.dlq, insertedAt: stamp)
        report("dlq_records (insert)", dlq)
        print("RESULT rows=\(rows) raw_rows_s=\(raw.rowsPerSecond) users_insert_rows_s=\(inserted.rowsPerSecond) users_update_rows_s=\(updated.rowsPerSecond) dlq_rows_s=\(dlq.rowsPerSecond)")
    }

    private func report(_ label: String, _ loaded: SaverStore.Loaded) {
        let padded = label.padding(toLength: 26, withPad: " ", startingAt: 0)
        print("\(padded) \(loaded.rows) rows in \(Self.seconds(loaded.elapsed)) s: \(loaded.rowsPerSecond) rows/s")
    }

    static func seconds(_ duration: Duration) -> String { String(format: "%.2f", duration.seconds) }

    /// A DummyJSON-like user (about 1.3 KB as JSON), masked and enriched as users.jsonl holds it.
    static func stage(_ run: RunID, layout: StagingLayout, rows: Int, dlqRows: Int) throws -> (raw: StagedFile, users: StagedFile, dlq: StagedFile) {
        let raw = try StagedFileWriter(path: layout.rawMaskedFile(run))
        let users = try StagedFileWriter(path: layout.usersFile(run))
        let dlq = try StagedFileWriter(path: layout.dlqFile(run))
        for id in 1...rows {
            let masked = #"{"id":\#(id),"firstName":"First\#(id)","lastName":"Last\#(id)","maidenName":"","age":\#(18 + id % 47),"gender":"female","email":"user\#(id)@x.dummyjson.com","phone":"+81 965-431-3024","username":"user\#(id)","birthDate":"1996-5-30","image":"https://dummyjson.com/icon/user\#(id)/128","bloodGroup":"O-","height":193.24,"weight":63.16,"eyeColor":"Green","hair":{"color":"Brown","type":"Curly"},"ip":"42.48.100.32","address":{"address":"\#(id) Main Street","city":"Phoenix","state":"Mississippi","stateCode":"MS","postalCode":"29112","coordinates":{"lat":-77.16213,"lng":-92.084824},"country":"United States"},"macAddress":"47:fa:41:18:ec:eb","university":"University of Wisconsin--Madison","bank":{"cardExpire":"03/26","cardNumber":"************\#(String(format: "%04d", id % 10000))","cardType":"Elo","currency":"CNY","iban":"**********************7659"},"company":{"department":"Engineering","name":"Dooley, Kozey and Cronin","title":"Sales Manager","address":{"address":"263 Tenth Street","city":"San Francisco","state":"Wisconsin","stateCode":"WI","postalCode":"37657","coordinates":{"lat":71.814525,"lng":-161.150263},"country":"United States"}},"ein":"***-175","ssn":"*******7263","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","crypto":{"coin":"Bitcoin","wallet":"****************************************3ba2","network":"Ethereum (ERC20)"},"role":"admin"}"#
            try raw.appendLine(masked)
            let hash = SHA256Digest.hex(of: Array("raw \(id)".utf8))
            try users.appendLine(String(masked.dropLast()) + #","full_name":"First\#(id) Last\#(id)","email_domain":"x.dummyjson.com","age_group":"25-34","department_code":"ENG","bmi":16.9,"bmi_category":"underweight","birth_date":"1996-05-30","line":\#(id),"run_id":"\#(run)","extracted_at":"2026-11-22T10:15:30.000Z","transformed_at":"2026-11-22T10:15:31.000Z","record_hash":"\#(hash)"}"#)
            if id <= dlqRows {
                try dlq.appendLine(#"{"line":\#(id),"run_id":"\#(run)","reasons":[{"field":"email","rule":"email_format","message":"not an email address"}],"payload":\#(masked),"record_hash":"\#(hash)","transformed_at":"2026-11-22T10:15:31.000Z"}"#)
            }
        }
        return (try raw.commit(), try users.commit(), try dlq.commit())
    }
}
