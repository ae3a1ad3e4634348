import GRDB
import PipelineCore
import PipelineDatabase
import PipelineJSON

/// A page of a list: the rows asked for and how many match in all (`X-Total-Count`).
public struct Page<Item: Sendable>: Sendable {
    public var total: Int
    public var items: [Item]
}

/// How many rows have one value of a column (`value` is `nil` for SQL NULL).
public struct Facet: Sendable, Equatable {
    public var value: String?
    public var count: Int

    public var json: JSONValue { ["value": .string(value), "count": .int(count)] }
}

/// `limit`/`offset` as validated by ``QueryParameters``.
public struct Pagination: Sendable, Equatable {
    public static let defaultLimit = 50
    public static let maximumLimit = 500

    public var limit: Int
    public var offset: Int

    public init(limit: Int = Pagination.defaultLimit, offset: Int = 0) {
        self.limit = limit
        self.offset = offset
    }
}

/// The SQL behind each endpoint. Every function runs inside one read transaction, so a page and
/// its total come from the same snapshot even while the saver commits.
public enum Queries {
    /// The columns `sort` accepts on `/etl_runs`.
    public static let runSortColumns = [
        EtlRun.Columns.runID, EtlRun.Columns.status, EtlRun.Columns.failedPhase, EtlRun.Columns.startedAt, EtlRun.Columns.finishedAt,
        EtlRun.Columns.durationMs, EtlRun.Columns.extracted, EtlRun.Columns.valid, EtlRun.Columns.invalid, EtlRun.Columns.loaded,
        EtlRun.Columns.unknownDepartment,
    ].map(\.name)

    /// Runs, newest first (`started_at`, then `run_id`, both descending), or in the order of `sort`
    /// (then by `run_id`).
    public static func runs(_ db: Database, status: String?, page: Pagination, sort: [SortKey]? = nil) throws -> Page<RunResource> {
        var filter = ""
        var arguments: [String] = []
        typealias C = EtlRun.Columns
        if let status {
            filter = "WHERE \(C.status.name) = ?"
            arguments.append(status)
        }
        let total = try count(db, sql: "SELECT COUNT(*) FROM \(EtlRun.databaseTableName) \(filter)", arguments: arguments)
        let sql = """
            SELECT * FROM \(EtlRun.databaseTableName) \(filter)
            ORDER BY \(sort.map { SortKey.orderBy($0, tieBreak: C.runID.name) } ?? "\(C.startedAt.name) DESC, \(C.runID.name) DESC") LIMIT ? OFFSET ?
            """
        var tape = JSONTape()
        let items = try fetch(db, sql: sql, cached: sort == nil, arguments: StatementArguments(arguments) + [page.limit, page.offset]) {
            RunResource(EtlRun(row: $0), tape: &tape)
        }
        return Page(total: total, items: items)
    }

    public static func run(_ db: Database, id: String) throws -> RunResource? {
        try EtlRun.fetchOne(db, sql: "SELECT * FROM \(EtlRun.databaseTableName) WHERE \(EtlRun.Columns.runID.name) = ?", arguments: [id])
            .map(RunResource.init(_:))
    }

    static func runExists(_ db: Database, id: String) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM \(EtlRun.databaseTableName) WHERE \(EtlRun.Columns.runID.name) = ?)", arguments: [id]
        ) ?? false
    }

    /// A run's dead letters by line; `nil` when there is no such run.
    public static func deadLetters(_ db: Database, runID: String, page: Pagination, masking: SecretMasking) throws -> Page<DLQResource>? {
        guard try runExists(db, id: runID) else { return nil }
        typealias C = DLQRecord.Columns
        let table = DLQRecord.databaseTableName
        let total = try count(db, sql: "SELECT COUNT(*) FROM \(table) WHERE \(C.runID.name) = ?", arguments: [runID])
        var masker = PayloadMasker(masking)
        let items = try fetch(
            db, sql: "SELECT \(DLQResource.columns) FROM \(table) WHERE \(C.runID.name) = ? ORDER BY \(C.line.name) LIMIT ? OFFSET ?", cached: true,
            arguments: [runID, page.limit, page.offset]
        ) { DLQResource(row: $0, masker: &masker) }
        return Page(total: total, items: items)
    }

    /// The reason members `/etl_runs/{run_id}/dlq/facets/{column}` counts rows by.
    public static let deadLetterFacetColumns = ["rule", "field"]

    /// Dead-letter rows per rule, by rule name: a row counts once under each rule among its
    /// reasons. Of one run, or of every run when `runID` is nil.
    public static func deadLetterRules(_ db: Database, runID: String?) throws -> [(rule: String, rows: Int)] {
        try deadLetterCounts(db, member: "rule", runID: runID, orderBy: "value", limit: -1, offset: 0).map { ($0.value ?? "", $0.count) }
    }

    /// A run's dead-letter rows per value of a reason member (`rule` or `field`): most rows first,
    /// then by value; `nil` when there is no such run.
    public static func deadLetterFacet(_ db: Database, runID: String, column: String, page: Pagination) throws -> Page<Facet>? {
        precondition(deadLetterFacetColumns.contains(column))
        guard try runExists(db, id: runID) else { return nil }
        let total = try deadLetterCounts(db, member: column, runID: runID, orderBy: "value", limit: -1, offset: 0).count
        let items = try deadLetterCounts(db, member: column, runID: runID, orderBy: "n DESC, value", limit: page.limit, offset: page.offset)
        return Page(total: total, items: items)
    }

    /// Rows per value of `member` in the reasons of `dlq_records`, a row counted once per value.
    /// Reasons that are not objects with a string `member` (which the saver never writes) count
    /// under no value.
    private static func deadLetterCounts(
        _ db: Database, member: String, runID: String?, orderBy: String, limit: Int, offset: Int
    ) throws -> [Facet] {
        typealias C = DLQRecord.Columns
        var filter = ""
        var arguments: StatementArguments = []
        if let runID {
            filter = "WHERE d.\(C.runID.name) = ?"
            arguments += [runID]
        }
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT value, COUNT(*) AS n FROM (
                    SELECT DISTINCT d.\(C.runID.name), d.\(C.line.name),
                        CASE WHEN r.type = 'object' AND json_type(r.value, '$.\(member)') = 'text'
                            THEN json_extract(r.value, '$.\(member)') END AS value
                    FROM \(DLQRecord.databaseTableName) d,
                        json_each(CASE WHEN json_valid(d.\(C.reasons.name)) THEN d.\(C.reasons.name) ELSE '[]' END) r
                    \(filter)
                ) WHERE value IS NOT NULL GROUP BY value ORDER BY \(orderBy) LIMIT ? OFFSET ?
                """,
            arguments: arguments + [limit, offset])
        return rows.map { Facet(value: $0[0], count: $0[1]) }
    }

    /// A run's events in the order they happened; `nil` when there is no such run.
    public static func events(_ db: Database, runID: String) throws -> [EtlRunEvent]? {
        guard try runExists(db, id: runID) else { return nil }
        return try EtlRunEvent.filter(EtlRunEvent.Columns.runID == runID)
            .order(EtlRunEvent.Columns.at, EtlRunEvent.Columns.id).fetchAll(db)
    }

    /// The columns `sort` accepts on `/users`.
    public static let userSortColumns = [
        User.Columns.id, User.Columns.runID, User.Columns.fullName, User.Columns.email, User.Columns.emailDomain, User.Columns.age,
        User.Columns.ageGroup, User.Columns.department, User.Columns.departmentCode, User.Columns.bmi, User.Columns.bmiCategory,
        User.Columns.birthDate, User.Columns.insertedAt, User.Columns.updatedAt,
    ].map(\.name)

    /// The columns `/users/facets/{column}` counts users by.
    public static let userFacetColumns = [
        User.Columns.department, User.Columns.departmentCode, User.Columns.ageGroup, User.Columns.bmiCategory, User.Columns.emailDomain,
        User.Columns.runID,
    ].map(\.name)

    /// Users by id (or in the order of `sort`, then by id), optionally only one department's or
    /// those last changed by one run.
    public static func users(
        _ db: Database, department: String?, runID: String?, page: Pagination, sort: [SortKey]? = nil, masking: SecretMasking
    ) throws -> Page<UserResource> {
        let (filter, arguments) = userFilter(department: department, runID: runID)
        let total = try count(db, sql: "SELECT COUNT(*) FROM \(User.databaseTableName) \(filter)", arguments: arguments)
        var masker = PayloadMasker(masking)
        let items = try fetch(
            db,
            sql: """
                SELECT \(UserResource.columns) FROM \(User.databaseTableName) \(filter)
                ORDER BY \(SortKey.orderBy(sort ?? [], tieBreak: User.Columns.id.name)) LIMIT ? OFFSET ?
                """,
            cached: sort == nil, arguments: StatementArguments(arguments) + [page.limit, page.offset]
        ) { UserResource(row: $0, masker: &masker) }
        return Page(total: total, items: items)
    }

    /// Users per value of `column` (one of ``userFacetColumns``) under the same filters as
    /// ``users(_:department:runID:page:sort:masking:)``: most users first, then by value.
    public static func userFacet(_ db: Database, column: String, department: String?, runID: String?, page: Pagination) throws -> Page<Facet> {
        precondition(userFacetColumns.contains(column))
        let (filter, arguments) = userFilter(department: department, runID: runID)
        let total = try Int.fetchOne(
            db, sql: "SELECT COUNT(DISTINCT \(column)) + MAX(\(column) IS NULL) FROM \(User.databaseTableName) \(filter)",
            arguments: StatementArguments(arguments)) ?? 0
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT \(column), COUNT(*) AS n FROM \(User.databaseTableName) \(filter) GROUP BY \(column) ORDER BY n DESC, \(column) LIMIT ? OFFSET ?",
            arguments: StatementArguments(arguments) + [page.limit, page.offset])
        return Page(total: total, items: rows.map { Facet(value: $0[0], count: $0[1]) })
    }

    private static func userFilter(department: String?, runID: String?) -> (String, [String]) {
        var conditions: [String] = []
        var arguments: [String] = []
        if let department {
            conditions.append("\(User.Columns.department.name) = ?")
            arguments.append(department)
        }
        if let runID {
            conditions.append("\(User.Columns.runID.name) = ?")
            arguments.append(runID)
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    public static func user(_ db: Database, id: Int64, masking: SecretMasking) throws -> UserResource? {
        var masker = PayloadMasker(masking)
        return try fetch(
            db, sql: "SELECT \(UserResource.columns) FROM \(User.databaseTableName) WHERE \(User.Columns.id.name) = ?", cached: true, arguments: [id]
        ) { UserResource(row: $0, masker: &masker) }.first
    }

    /// Runs `sql` and makes an item of each row while SQLite still holds it (a cursor: no copy
    /// of the row first). `cached`: the statement is prepared once per connection and reused;
    /// only for SQL from a fixed, small set (not for `sort` orders, which a client can vary).
    private static func fetch<Item>(
        _ db: Database, sql: String, cached: Bool, arguments: StatementArguments, _ item: (Row) throws -> Item
    ) throws -> [Item] {
        let statement = cached ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
        let rows = try Row.fetchCursor(statement, arguments: arguments)
        var items: [Item] = []
        while let row = try rows.next() { items.append(try item(row)) }
        return items
    }

    /// `SELECT COUNT(*) …` for `X-Total-Count`, remembered by the reader while the database does
    /// not change (``CountCache``): counting 100,000 users costs a millisecond per request.
    static func count(_ db: Database, sql: String, arguments: [String]) throws -> Int {
        if let counts = CountCache.current { return try counts.count(db, sql: sql, arguments: arguments) }
        return try CountCache.countNow(db, sql: sql, arguments: arguments)
    }
}
