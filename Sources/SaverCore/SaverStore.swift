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

    static let deleteRawSQL = "DELETE FROM raw_users WHERE run_id = ? AND line BETWEEN ? AND ?"
    /// `?1` the line, `?2` the run, `?3` its line number, `?4` inserted_at. `user_id` is the row's
    /// `id` when that is a positive integer, else NULL (a rejected row may have none).
    static let insertRawSQL = """
        INSERT INTO raw_users (run_id, line, user_id, payload, inserted_at)
        VALUES (?2, ?3,
                CASE WHEN json_type(?1, '$.id') = 'integer' AND json_extract(?1, '$.id') > 0
                     THEN json_extract(?1, '$.id') END,
                ?1, ?4)
        """

    /// Replaces the `raw_users` of the chunk's `lines` with the lines of its `raw.masked.jsonl`
    /// (`file`, checked as it is read), numbered run-wide from `lines.lowerBound`.
    public func replaceRawRows(run: RunID, lines: ClosedRange<Int>, file: StagedFile, whole: SHA256 = SHA256(), insertedAt: String) async throws -> Loaded {
        try await load(file, whole: whole, label: "raw.masked.jsonl", delete: Self.deleteRawSQL, lines: lines, insert: Self.insertRawSQL,
                       run: run, constants: [2: run.rawValue, 4: insertedAt], lineNumberIndex: 3)
    }

    // MARK: dlq_records

    static let deleteDLQSQL = "DELETE FROM dlq_records WHERE run_id = ? AND line BETWEEN ? AND ?"
    /// `->` keeps JSON as JSON text: a payload that is a string (a raw line that was not JSON)
    /// stays a quoted JSON string.
    static let insertDLQSQL = """
        INSERT INTO dlq_records (run_id, line, reasons, payload, inserted_at)
        VALUES (?2, ?1 ->> '$.line', ?1 -> '$.reasons', ?1 -> '$.payload', ?3)
        """

    /// Replaces the `dlq_records` of the chunk's `lines` with the lines of its `dlq.jsonl`
    /// (`file`, checked as it is read; each line carries its run-wide line number).
    public func replaceDLQRows(run: RunID, lines: ClosedRange<Int>, file: StagedFile, whole: SHA256 = SHA256(), insertedAt: String) async throws -> Loaded {
        try await load(file, whole: whole, label: "dlq.jsonl", delete: Self.deleteDLQSQL, lines: lines, insert: Self.insertDLQSQL,
                       run: run, constants: [2: run.rawValue, 3: insertedAt], lineNumberIndex: nil)
    }

    // MARK: users

    /// Columns that hold a user's state: replaced only when the record_hash changed.
    static let userStateColumns = [
        "run_id", "full_name", "email", "email_domain", "age", "age_group", "department", "department_code",
        "bmi", "bmi_category", "birth_date", "record_hash", "payload", "updated_at",
    ]

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
        let assignments = userStateColumns.map { column in
            "\(column) = CASE WHEN users.record_hash IS excluded.record_hash THEN users.\(column) ELSE excluded.\(column) END"
        } + ["last_seen_run_id = excluded.last_seen_run_id"]
        return """
            INSERT INTO users (id, run_id, full_name, email, email_domain, age, age_group, department, department_code,
                               bmi, bmi_category, birth_date, record_hash, payload, inserted_at, updated_at, last_seen_run_id)
            VALUES (CASE WHEN json_type(?1, '$.id') = 'integer' AND json_extract(?1, '$.id') > 0
                         THEN json_extract(?1, '$.id') ELSE 'not a positive integer' END,
                    ?2, ?1 ->> '$.full_name', ?1 ->> '$.email', ?1 ->> '$.email_domain', ?1 ->> '$.age',
                    ?1 ->> '$.age_group', ?1 ->> '$.company.department', ?1 ->> '$.department_code',
                    ?1 ->> '$.bmi', ?1 ->> '$.bmi_category', ?1 ->> '$.birth_date', ?1 ->> '$.record_hash',
                    ?1, ?3, ?3, ?2)
            ON CONFLICT (id) DO UPDATE SET
                \(assignments.joined(separator: ",\n    "))
            WHERE excluded.last_seen_run_id >= COALESCE(users.last_seen_run_id, users.run_id)
            """
    }()

    /// Upserts the lines of a chunk's `users.jsonl` (`file`, checked as it is read) by id.
    public func upsertUsers(run: RunID, file: StagedFile, whole: SHA256 = SHA256(), at timestamp: String) async throws -> Loaded {
        try await load(file, whole: whole, label: "users.jsonl", delete: nil, lines: nil, insert: Self.upsertUserSQL, run: run,
                       constants: [2: run.rawValue, 3: timestamp], lineNumberIndex: nil)
    }

    /// One transaction: optionally delete the rows of the chunk's `lines`, then run `insert`
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
        _ file: StagedFile, whole: SHA256, label: String, delete: String?, lines: ClosedRange<Int>?, insert: String, run: RunID,
        constants: [Int32: String], lineNumberIndex: Int32?
    ) async throws -> Loaded {
        let clock = ContinuousClock()
        let started = clock.now
        let (rows, hashed) = try await database.write { db -> (Int, SHA256) in
            if let delete, let lines { try db.execute(sql: delete, arguments: [run.rawValue, lines.lowerBound, lines.upperBound]) }
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
    public func writeRun(_ row: RunRow, events: [RunEvent], overwriteCompleted: Bool) async throws -> Bool {
        try await writeRuns([(row, events)], overwriteCompleted: overwriteCompleted) == 1
    }

    /// ``writeRun(_:events:overwriteCompleted:)`` for many runs in one transaction; returns how
    /// many rows were written.
    public func writeRuns(_ runs: [(RunRow, [RunEvent])], overwriteCompleted: Bool) async throws -> Int {
        guard !runs.isEmpty else { return 0 }
        defer { checkpointer.request() }
        return try await database.write { db -> Int in
            let upsert = try db.makeStatement(sql: overwriteCompleted ? Self.upsertRunSQL : Self.upsertRunSQL + Self.keepCompletedSQL)
            let deleteEvents = try db.makeStatement(sql: "DELETE FROM etl_run_events WHERE run_id = ?")
            let insertEvent = try db.makeStatement(sql: "INSERT INTO etl_run_events (run_id, at, stage, event, detail) VALUES (?, ?, ?, ?, ?)")
            var written = 0
            for (row, events) in runs {
                try upsert.execute(arguments: row.arguments)
                guard db.changesCount > 0 else { continue }
                written += 1
                try deleteEvents.execute(arguments: [row.runID])
                for event in events {
                    try insertEvent.execute(arguments: [row.runID, event.at, event.stage, event.event, event.detail])
                }
            }
            return written
        }
    }

    static let upsertRunSQL = """
        INSERT INTO etl_runs (run_id, status, failed_phase, error, started_at, finished_at, duration_ms, extracted, valid,
                              invalid, loaded, unknown_department, staged_files, remote_files, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (run_id) DO UPDATE SET
            status = excluded.status, failed_phase = excluded.failed_phase, error = excluded.error,
            started_at = excluded.started_at, finished_at = excluded.finished_at, duration_ms = excluded.duration_ms,
            extracted = excluded.extracted, valid = excluded.valid, invalid = excluded.invalid, loaded = excluded.loaded,
            unknown_department = excluded.unknown_department, staged_files = excluded.staged_files,
            remote_files = excluded.remote_files, updated_at = excluded.updated_at
        """
    static let keepCompletedSQL = "\nWHERE etl_runs.status <> 'completed'"

    /// The status and `updated_at` of the rows of `ids` that exist.
    public func runStates(_ ids: [RunID]) async throws -> [RunID: (status: String, updatedAt: String)] {
        guard !ids.isEmpty else { return [:] }
        return try await database.read { db in
            var states: [RunID: (status: String, updatedAt: String)] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchAll(db, sql: "SELECT run_id, status, updated_at FROM etl_runs WHERE run_id IN (\(marks))",
                                            arguments: StatementArguments(chunk.map(\.rawValue)))
                for row in rows {
                    if let id = RunID(parsing: row["run_id"] as String) {
                        states[id] = (row["status"], row["updated_at"])
                    }
                }
            }
            return states
        }
    }

    /// How many users rows carry `run` as the run of their last change.
    public func usersChanged(by run: RunID) async throws -> Int {
        try await database.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM users WHERE run_id = ?", arguments: [run.rawValue]) ?? 0
        }
    }
}

/// One `etl_runs` row.
public struct RunRow: Sendable, Equatable {
    public var runID: String
    public var status: String
    public var failedPhase: String?
    public var error: String?
    public var startedAt: String
    public var finishedAt: String?
    public var durationMs: Int?
    public var extracted: Int?
    public var valid: Int?
    public var invalid: Int?
    public var loaded: Int?
    public var unknownDepartment: Int?
    /// JSON array of `{path, rows, bytes, sha256}`.
    public var stagedFiles: String
    public var remoteFiles: String
    public var updatedAt: String

    public init(
        runID: String, status: String, failedPhase: String? = nil, error: String? = nil, startedAt: String,
        finishedAt: String? = nil, durationMs: Int? = nil, extracted: Int? = nil, valid: Int? = nil, invalid: Int? = nil,
        loaded: Int? = nil, unknownDepartment: Int? = nil, stagedFiles: String = "[]", remoteFiles: String = "[]",
        updatedAt: String
    ) {
        self.runID = runID
        self.status = status
        self.failedPhase = failedPhase
        self.error = error
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
        self.extracted = extracted
        self.valid = valid
        self.invalid = invalid
        self.loaded = loaded
        self.unknownDepartment = unknownDepartment
        self.stagedFiles = stagedFiles
        self.remoteFiles = remoteFiles
        self.updatedAt = updatedAt
    }

    var arguments: StatementArguments {
        [runID, status, failedPhase, error, startedAt, finishedAt, durationMs, extracted, valid, invalid, loaded,
         unknownDepartment, stagedFiles, remoteFiles, updatedAt]
    }
}

/// One `etl_run_events` row (without its id).
public struct RunEvent: Sendable, Equatable {
    public var at: String
    /// The phase: `extract`, `transform` or `save`.
    public var stage: String
    public var event: String
    public var detail: String?

    public init(at: String, stage: String, event: String, detail: String? = nil) {
        self.at = at
        self.stage = stage
        self.event = event
        self.detail = detail
    }
}
