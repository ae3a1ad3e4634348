import GRDB

/// One row of `users`: the latest enriched state of a user, upserted by id.
///
/// The saver upserts a staged file at a time through one prepared statement
/// (`SaverStore.upsertUsers`, SQL written from ``Columns``), not through `upsert`: a load is
/// 100,000s of rows. The API selects ``Columns`` and reads the payload from SQLite's buffer
/// (`UserResource`), not through this type.
public struct User: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "users"

    public var id: Int
    /// The run of the last change (the `recordHash` moved).
    public var runID: String
    public var fullName: String
    public var email: String
    public var emailDomain: String
    public var age: Int
    public var ageGroup: String
    public var department: String
    public var departmentCode: String
    public var bmi: Double?
    public var bmiCategory: String?
    public var birthDate: String?
    /// SHA-256 of the raw line; `updatedAt` moves only when it changes.
    public var recordHash: String
    /// The whole enriched row as written to users.jsonl (secrets masked or removed).
    public var payload: String
    public var insertedAt: String
    public var updatedAt: String
    /// The newest run that carried the user, changed or not; `nil` on rows written before the
    /// v2 migration (read as `runID`).
    public var lastSeenRunID: String?

    /// The table's columns, in the order of the table (``DatabaseSchema``).
    public enum CodingKeys: String, CodingKey, CaseIterable, Sendable, ColumnExpression {
        case id, runID = "run_id", fullName = "full_name", email, emailDomain = "email_domain", age, ageGroup = "age_group"
        case department, departmentCode = "department_code", bmi, bmiCategory = "bmi_category", birthDate = "birth_date"
        case recordHash = "record_hash", payload, insertedAt = "inserted_at", updatedAt = "updated_at"
        case lastSeenRunID = "last_seen_run_id"
    }

    /// The columns, for queries: the coding keys are the column names.
    public typealias Columns = CodingKeys
}
