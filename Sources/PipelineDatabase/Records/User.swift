import GRDB

/// One row of `users`: the latest enriched state of a user, upserted by id.
///
/// The saver upserts a staged file at a time through one prepared statement
/// (`SaverStore.upsertUsers`, SQL written from ``Columns``), not through `upsert`: a load is
/// 100,000s of rows. The API reads pages of it (`UserResource`).
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

extension User {
    private static let width = CodingKeys.allCases.count

    /// Reads a row of `SELECT *` by position, as ``EtlRun/init(row:)`` does: a lookup by name
    /// costs a hash per column and row of an API page.
    public init(row: Row) {
        precondition(row.count >= Self.width, "a users row has \(Self.width) columns")
        id = row[0]
        runID = row[1]
        fullName = row[2]
        email = row[3]
        emailDomain = row[4]
        age = row[5]
        ageGroup = row[6]
        department = row[7]
        departmentCode = row[8]
        bmi = row[9]
        bmiCategory = row[10]
        birthDate = row[11]
        recordHash = row[12]
        payload = row[13]
        insertedAt = row[14]
        updatedAt = row[15]
        lastSeenRunID = row[16]
    }
}
