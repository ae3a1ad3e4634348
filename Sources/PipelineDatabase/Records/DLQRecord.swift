import GRDB

/// One row of `dlq_records`: a rejected row of a run with every reason, by its line in raw.jsonl.
///
/// The saver fills the table a staged file at a time through one prepared statement
/// (`SaverStore.replaceDLQRows`, SQL written from ``Columns``), not through `insert`; the API
/// reads pages of it (`DLQResource`).
public struct DLQRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "dlq_records"

    public var runID: String
    /// 1-based, run-wide.
    public var line: Int
    /// JSON array of `{field, rule, message}`.
    public var reasons: String
    /// The masked row, or the raw text (as a JSON string) when the line is not JSON.
    public var payload: String
    public var insertedAt: String

    /// The table's columns, in the order of the table (``DatabaseSchema``).
    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable, ColumnExpression {
        case runID = "run_id", line, reasons, payload, insertedAt = "inserted_at"
    }

    /// The columns, for queries: the coding keys are the column names.
    public typealias Columns = CodingKeys
}

extension DLQRecord {
    /// Reads a row of `SELECT *` by position, as ``EtlRun/init(row:)`` does.
    public init(row: Row) {
        precondition(row.count >= CodingKeys.allCases.count, "a dlq_records row has \(CodingKeys.allCases.count) columns")
        runID = row[0]
        line = row[1]
        reasons = row[2]
        payload = row[3]
        insertedAt = row[4]
    }
}
