import Crypto
import Foundation
import GRDB
import PipelineCore
import PipelineDatabase

/// The saver's writes to SQLite (docs/STAGING.md, "What the saver records"), one transaction
/// per staged chunk file.
///
/// Each method is one transaction, all-or-nothing and idempotent per chunk: a chunk's
/// `raw_users` and `dlq_records` (its run's rows in its line range) and a run's events are
/// deleted and inserted again; `users` are upserted; the run row is upserted. A chunk file is
/// checked against the ledger (rows, bytes, SHA-256) in the same read that loads it, and the
/// transaction is rolled back when it does not match. Rows are inserted through one prepared statement per transaction
/// (Codable per-row inserts are about 2× slower); SQLite's JSON functions pick the columns out
/// of each line, so a line is parsed once, in C.
///
/// GRDB's async `write` runs on its own writer queue, so no call here blocks Swift's
/// cooperative threads; the staged file is read inside the transaction, on that queue.
public struct SaverStore: Sendable {
    public let database: DatabasePool
    /// Checkpoints the WAL after every transaction, beside the next one (see ``WALCheckpointer``
    /// for why; ``Saver/openDatabase(path:)`` turns the writer's own checkpoints off).
    public let checkpointer: WALCheckpointer

    public init(database: DatabasePool) {
        self.database = database
        self.checkpointer = WALCheckpointer(path: database.path)
    }

    /// What one loading transaction did.
    public struct Loaded: Sendable {
        /// Lines read and written.
        public var rows: Int
        /// From the start of the transaction to its commit.
        public var elapsed: Duration
        /// The running SHA-256 given to the load, continued over the file's bytes.
        public var whole: SHA256

        public var rowsPerSecond: Int {
            elapsed.seconds > 0 ? Int(Double(rows) / elapsed.seconds) : rows
        }
    }

    // MARK: raw_users

    /// `?1` the line, `?2` the run, `?3` its line number, `?4` inserted_at. `user_id` is the row's
    /// `id` when that is a positive integer, else NULL (a rejected row may have none).
    static let insertRawSQL = insertSQL(into: RawUser.self, [
        (RawUser.Columns.runID, "?2"),
        (RawUser.Columns.line, "?3"),
        (RawUser.Columns.userID, """
            CASE WHEN json_type(?1, '$.id') = 'integer' AND json_extract(?1, '$.id') > 0
                         THEN json_extract(?1, '$.id') END
            """),
        (RawUser.Columns.payload, "?1"),
        (RawUser.Columns.insertedAt, "?4"),
    ])

    /// Replaces the `raw_users` of the chunk's `lines` with the lines of its `raw.masked.jsonl`
    /// (`file`, checked as it is read), numbered run-wide from `lines.lowerBound`.
    public func replaceRawRows(run: RunID, lines: ClosedRange<Int>, file: StagedFile, whole: SHA256 = SHA256(), insertedAt: String) async throws -> Loaded {
        try await load(file, whole: whole, label: "raw.masked.jsonl", lines: lines, insert: Self.insertRawSQL, run: run,
                       constants: [2: run.rawValue, 4: insertedAt], lineNumberIndex: 3) { db in
            try RawUser.filter(RawUser.Columns.runID == run.rawValue && lines.contains(RawUser.Columns.line)).deleteAll(db)
        }
    }

    // MARK: dlq_records

    /// `?1` the line, `?2` the run, `?3` inserted_at. `->` keeps JSON as JSON text: a payload that
    /// is a string (a raw line that was not JSON) stays a quoted JSON string.
    static let insertDLQSQL = insertSQL(into: DLQRecord.self, [
        (DLQRecord.Columns.runID, "?2"),
        (DLQRecord.Columns.line, "?1 ->> '$.line'"),
        (DLQRecord.Columns.reasons, "?1 -> '$.reasons'"),
        (DLQRecord.Columns.payload, "?1 -> '$.payload'"),
        (DLQRecord.Columns.insertedAt, "?3"),
    ])

    /// Replaces the `dlq_records` of the chunk's `lines` with the lines of its `dlq.jsonl`
    /// (`file`, checked as it is read; each line carries its run-wide line number).
    public func replaceDLQRows(run: RunID, lines: ClosedRange<Int>, file: StagedFile, whole: SHA256 = SHA256(), insertedAt: String) async throws -> Loaded {
        try await load(file, whole: whole, label: "dlq.jsonl", lines: lines, insert: Self.insertDLQSQL, run: run,
                       constants: [2: run.rawValue, 3: insertedAt], lineNumberIndex: nil) { db in
            try DLQRecord.filter(DLQRecord.Columns.runID == run.rawValue && lines.contains(DLQRecord.Columns.line)).deleteAll(db)
        }
    }

    // MARK: users

    /// Columns that hold a user's state: replaced only when the record_hash changed.
    static let userStateColumns = [
        User.Columns.runID, User.Columns.fullName, User.Columns.email, User.Columns.emailDomain, User.Columns.age,
        User.Columns.ageGroup, User.Columns.department, User.Columns.departmentCode, User.Columns.bmi, User.Columns.bmiCategory,
        User.Columns.birthDate, User.Columns.recordHash, User.Columns.payload, User.Columns.updatedAt,
    ].map(\.name)

    /// `?1` the line, `?2` the run, `?3` the time of the save.
    ///
    /// - A new id is inserted with `inserted_at = updated_at = ?3`.
    /// - A known id whose `record_hash` changed gets the new state and `updated_at`; one whose
    ///   hash did not change keeps its state, `run_id` (the run of the last change) and
    ///   `updated_at`. `inserted_at` is never touched.
    /// - Nothing happens when the row was last seen by a newer run than this one: a late save
    ///   of an older run never overwrites newer state. Run ids sort by start time.
    ///
    /// An `id` that is not a positive integer becomes the text `'not a positive integer'`,
    /// which the INTEGER PRIMARY KEY refuses (SQLITE_MISMATCH) instead of assigning a rowid.
    static let upsertUserSQL: String = {
        typealias C = User.Columns
        let table = User.databaseTableName
        let assignments = userStateColumns.map { column in
            "\(column) = CASE WHEN \(table).\(C.recordHash.name) IS excluded.\(C.recordHash.name) THEN \(table).\(column) ELSE excluded.\(column) END"
        } + ["\(C.lastSeenRunID.name) = excluded.\(C.lastSeenRunID.name)"]
        return insertSQL(into: User.self, [
            (C.id, """
                CASE WHEN json_type(?1, '$.id') = 'integer' AND json_extract(?1, '$.id') > 0
                             THEN json_extract(?1, '$.id') ELSE 'not a positive integer' END
                """),
            (C.runID, "?2"), (C.fullName, "?1 ->> '$.full_name'"), (C.email, "?1 ->> '$.email'"),
            (C.emailDomain, "?1 ->> '$.email_domain'"), (C.age, "?1 ->> '$.age'"), (C.ageGroup, "?1 ->> '$.age_group'"),
            (C.department, "?1 ->> '$.company.department'"), (C.departmentCode, "?1 ->> '$.department_code'"),
            (C.bmi, "?1 ->> '$.bmi'"), (C.bmiCategory, "?1 ->> '$.bmi_category'"), (C.birthDate, "?1 ->> '$.birth_date'"),
            (C.recordHash, "?1 ->> '$.record_hash'"), (C.payload, "?1"), (C.insertedAt, "?3"), (C.updatedAt, "?3"),
            (C.lastSeenRunID, "?2"),
        ]) + """

            ON CONFLICT (\(C.id.name)) DO UPDATE SET
                \(assignments.joined(separator: ",\n    "))
            WHERE excluded.\(C.lastSeenRunID.name) >= COALESCE(\(table).\(C.lastSeenRunID.name), \(table).\(C.runID.name))
            """
    }()

    /// `INSERT INTO <table> (<columns>) VALUES (<values>)`, each column beside the SQL of its value.
    static func insertSQL<Record: TableRecord, C: ColumnExpression>(into _: Record.Type, _ values: [(C, String)]) -> String {
        """
        INSERT INTO \(Record.databaseTableName) (\(values.map(\.0.name).joined(separator: ", ")))
        VALUES (\(values.map(\.1).joined(separator: ",\n        ")))
        """
    }

    /// Upserts the lines of a chunk's `users.jsonl` (`file`, checked as it is read) by id.
    public func upsertUsers(run: RunID, file: StagedFile, whole: SHA256 = SHA256(), at timestamp: String) async throws -> Loaded {
        try await load(file, whole: whole, label: "users.jsonl", lines: nil, insert: Self.upsertUserSQL, run: run,
                       constants: [2: run.rawValue, 3: timestamp], lineNumberIndex: nil, delete: nil)
    }

    /// One transaction: first `delete` (the rows of the chunk's `lines`), if any, then run `insert`
    /// for every line of the file through one prepared statement (``LineInsertStatement``: `?1`
    /// is the line, bound from the read buffer; `constants` are bound once; `lineNumberIndex`
    /// gets the run-wide line number, counted from `lines.lowerBound`).
    ///
    /// The bytes read are hashed as they go by, into the file's own SHA-256 and into `whole`
    /// (the remote file the chunk is appended to): the file is read once. A file whose rows,
    /// size or SHA-256 differ from `file` rolls the transaction back with
    /// ``StagingError/corrupt(path:reason:)``, also when one of its lines could not be stored
    /// (the file is then read to its end first, so the error names the cause).
    private func load(
        _ file: StagedFile, whole: SHA256, label: String, lines: ClosedRange<Int>?, insert: String, run: RunID,
        constants: [Int32: String], lineNumberIndex: Int32?, delete: (@Sendable (Database) throws -> Void)?
    ) async throws -> Loaded {
        let clock = ContinuousClock()
        let started = clock.now
        let (rows, hashed) = try await database.write { db -> (Int, SHA256) in
            try delete?(db)
            let statement = try LineInsertStatement(db, sql: insert, constants: constants, lineNumberIndex: lineNumberIndex)
            let offset = (lines?.lowerBound ?? 1) - 1
            var reader = try JSONLReader(path: file.path)
            var digest = FileDigest(continuing: whole)
            var rows = 0
            var refused: SaveFailure?
            try reader.forEachLine(reading: { digest.update($0) }) { number, line in
                rows += 1
                guard refused == nil else { return }
                do {
                    try statement.execute(line: line, number: number + offset)
                } catch let error as DatabaseError {
                    refused = SaveFailure("\(label) line \(number + offset) of run \(run) could not be stored: \(Self.explain(error))")
                }
            }
            try digest.check(rows: rows, against: file)
            if let refused { throw refused }
            return (rows, digest.running)
        }
        checkpointer.request()
        return Loaded(rows: rows, elapsed: started.duration(to: clock.now), whole: hashed)
    }

    private static func explain(_ error: DatabaseError) -> String {
        if error.resultCode == .SQLITE_MISMATCH { return "its id is not a positive integer" }
        if let message = error.message, message.contains("malformed JSON") { return "it is not valid JSON" }
        return error.message ?? "\(error)"
    }

    // MARK: etl_runs and etl_run_events

    /// Writes a run's row and replaces its events, in one transaction.
    ///
    /// - Parameter overwriteCompleted: `true` for the saver finishing the run; `false` when
    ///   mirroring the ledger, which must never turn a `completed` row (whose rows are in) back
    ///   into an earlier status.
    /// - Returns: whether the row was written.
    @discardableResult
    public func writeRun(_ run: EtlRun, events: [EtlRunEvent], overwriteCompleted: Bool) async throws -> Bool {
        try await writeRuns([(run, events)], overwriteCompleted: overwriteCompleted) == 1
    }

    /// ``writeRun(_:events:overwriteCompleted:)`` for many runs in one transaction; returns how
    /// many rows were written.
    public func writeRuns(_ runs: [(EtlRun, [EtlRunEvent])], overwriteCompleted: Bool) async throws -> Int {
        guard !runs.isEmpty else { return 0 }
        defer { checkpointer.request() }
        return try await database.write { db -> Int in
            let upsert = try db.makeStatement(sql: overwriteCompleted ? Self.upsertRunSQL : Self.upsertRunSQL + Self.keepCompletedSQL)
            var written = 0
            for (run, events) in runs {
                try upsert.execute(arguments: StatementArguments(run.databaseDictionary))
                guard db.changesCount > 0 else { continue }
                written += 1
                try EtlRunEvent.filter(EtlRunEvent.Columns.runID == run.runID).deleteAll(db)
                for event in events { try event.insert(db) }
            }
            return written
        }
    }

    /// Every column of ``EtlRun`` as a named argument (`:run_id`, …), replaced on conflict.
    static let upsertRunSQL: String = {
        let columns = EtlRun.CodingKeys.allCases.map(\.rawValue)
        let updated = columns.filter { $0 != EtlRun.Columns.runID.name }
        return """
            INSERT INTO \(EtlRun.databaseTableName) (\(columns.joined(separator: ", ")))
            VALUES (\(columns.map { ":" + $0 }.joined(separator: ", ")))
            ON CONFLICT (\(EtlRun.Columns.runID.name)) DO UPDATE SET
                \(updated.map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
            """
    }()
    static let keepCompletedSQL = "\nWHERE \(EtlRun.databaseTableName).\(EtlRun.Columns.status.name) <> 'completed'"

    /// The status and `updated_at` of the rows of `ids` that exist.
    public func runStates(_ ids: [RunID]) async throws -> [RunID: (status: String, updatedAt: String)] {
        guard !ids.isEmpty else { return [:] }
        return try await database.read { db in
            var states: [RunID: (status: String, updatedAt: String)] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                let rows = try EtlRun.select(EtlRun.Columns.runID, EtlRun.Columns.status, EtlRun.Columns.updatedAt)
                    .filter(chunk.map(\.rawValue).contains(EtlRun.Columns.runID))
                    .asRequest(of: Row.self).fetchAll(db)
                for row in rows {
                    if let id = RunID(parsing: row[EtlRun.Columns.runID] as String) {
                        states[id] = (row[EtlRun.Columns.status], row[EtlRun.Columns.updatedAt])
                    }
                }
            }
            return states
        }
    }

    /// How many users rows carry `run` as the run of their last change.
    public func usersChanged(by run: RunID) async throws -> Int {
        try await database.read { db in
            try User.filter(User.Columns.runID == run.rawValue).fetchCount(db)
        }
    }
}
