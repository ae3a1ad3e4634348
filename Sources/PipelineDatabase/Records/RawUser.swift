import GRDB

/// One row of `raw_users`: an upstream row of a run, secrets masked, by its line in raw.jsonl.
///
/// The saver fills the table a staged file at a time through one prepared statement
/// (`SaverStore.replaceRawRows`, SQL written from ``Columns``), not through `insert`: a load is
/// 100,000s of rows. Nothing reads the rows back but tests and the row counts of `/metrics`.
public struct RawUser: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "raw_users"

    public var runID: String
    /// 1-based, run-wide.
    public var line: Int
    /// The row's `id` when it is a positive integer, else `nil`.
    public var userID: Int?
    public var payload: String
    public var insertedAt: String

    /// The table's columns, in the order of the table (``DatabaseSchema``).
    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable, ColumnExpression {
        case runID = "run_id", line, userID = "user_id", payload, insertedAt = "inserted_at"
    }

    /// The columns, for queries: the coding keys are the column names.
    public typealias Columns = CodingKeys
}
