import GRDB

/// One row of `etl_run_events`: what happened to a run, stage by stage. The saver writes a run's
/// events with its ``EtlRun``; the API lists them (`/etl_runs/{run_id}/events`, the dashboard).
public struct EtlRunEvent: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "etl_run_events"

    /// Assigned by SQLite on insert; `nil` for an event not stored yet.
    public var id: Int?
    public var runID: String
    public var at: String
    /// The phase: `extract`, `transform` or `save`.
    public var stage: String
    public var event: String
    public var detail: String?

    public init(id: Int? = nil, runID: String, at: String, stage: String, event: String, detail: String? = nil) {
        self.id = id
        self.runID = runID
        self.at = at
        self.stage = stage
        self.event = event
        self.detail = detail
    }

    /// The table's columns, in the order of the table (``DatabaseSchema``).
    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable, ColumnExpression {
        case id, runID = "run_id", at, stage, event, detail
    }

    /// The columns, for queries: the coding keys are the column names.
    public typealias Columns = CodingKeys
}
