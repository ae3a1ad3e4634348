import GRDB

/// One row of `etl_runs` (docs/ARCHITECTURE.md, "Tables"): a run, failed runs included. The
/// saver upserts it (`SaverStore.writeRuns`); the API reads it (`Queries.runs`).
public struct EtlRun: Codable, Sendable, Equatable {
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
    /// JSON array of `{path, rows, bytes, sha256}`: the staged files.
    public var stagedFiles: String
    /// The same for the uploaded files.
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

    /// The table's columns, in the order of the table (``DatabaseSchema``).
    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable, ColumnExpression {
        case runID = "run_id", status, failedPhase = "failed_phase", error, startedAt = "started_at", finishedAt = "finished_at"
        case durationMs = "duration_ms", extracted, valid, invalid, loaded, unknownDepartment = "unknown_department"
        case stagedFiles = "staged_files", remoteFiles = "remote_files", updatedAt = "updated_at"
    }

    /// The columns, for queries: the coding keys are the column names.
    public typealias Columns = CodingKeys
}

extension EtlRun: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "etl_runs"
    private static let width = CodingKeys.allCases.count

    /// Reads a row of `SELECT *` (GRDB's selection for this type) by position: the table's
    /// columns are in the order of ``CodingKeys`` (`RecordTests` checks it). The API reads a page
    /// of runs per request, and a lookup by name costs a hash per column and row (5% of the page).
    public init(row: Row) {
        precondition(row.count >= Self.width, "an etl_runs row has \(Self.width) columns")
        runID = row[0]
        status = row[1]
        failedPhase = row[2]
        error = row[3]
        startedAt = row[4]
        finishedAt = row[5]
        durationMs = row[6]
        extracted = row[7]
        valid = row[8]
        invalid = row[9]
        loaded = row[10]
        unknownDepartment = row[11]
        stagedFiles = row[12]
        remoteFiles = row[13]
        updatedAt = row[14]
    }
}
