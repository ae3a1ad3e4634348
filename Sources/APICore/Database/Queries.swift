import GRDB
import PipelineCore

/// A page of a list: the rows asked for and how many match in all (`X-Total-Count`).
public struct Page<Item: Sendable>: Sendable {
    public var total: Int
    public var items: [Item]
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
    /// Runs, newest first (`started_at`, then `run_id`, both descending).
    public static func runs(_ db: Database, status: String?, page: Pagination) throws -> Page<RunResource> {
        var filter = ""
        var arguments: StatementArguments = []
        if let status {
            filter = "WHERE status = ?"
            arguments += [status]
        }
        let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM etl_runs \(filter)", arguments: arguments) ?? 0
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT \(RunResource.columns) FROM etl_runs \(filter) ORDER BY started_at DESC, run_id DESC LIMIT ? OFFSET ?",
            arguments: arguments + [page.limit, page.offset])
        return Page(total: total, items: rows.map(RunResource.init(row:)))
    }

    public static func run(_ db: Database, id: String) throws -> RunResource? {
        try Row.fetchOne(db, sql: "SELECT \(RunResource.columns) FROM etl_runs WHERE run_id = ?", arguments: [id])
            .map(RunResource.init(row:))
    }

    static func runExists(_ db: Database, id: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM etl_runs WHERE run_id = ?)", arguments: [id]) ?? false
    }

    /// A run's dead letters by line; `nil` when there is no such run.
    public static func deadLetters(_ db: Database, runID: String, page: Pagination, masking: SecretMasking) throws -> Page<DLQResource>? {
        guard try runExists(db, id: runID) else { return nil }
        let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM dlq_records WHERE run_id = ?", arguments: [runID]) ?? 0
        let rows = try Row.fetchAll(
            db,
            sql: "SELECT \(DLQResource.columns) FROM dlq_records WHERE run_id = ? ORDER BY line LIMIT ? OFFSET ?",
            arguments: [runID, page.limit, page.offset])
        return Page(total: total, items: rows.map { DLQResource(row: $0, masking: masking) })
    }

    /// Dead-letter rows per rule, by rule name: a row counts once under each rule among its
    /// reasons. Of one run, or of every run when `runID` is nil. Reasons that are not objects with a
    /// string `rule` (which the saver never writes) count under no rule.
    public static func deadLetterRules(_ db: Database, runID: String?) throws -> [(rule: String, rows: Int)] {
        let filter = runID == nil ? "" : "WHERE d.run_id = ?"
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT rule, COUNT(*) FROM (
                    SELECT DISTINCT d.run_id, d.line,
                        CASE WHEN r.type = 'object' AND json_type(r.value, '$.rule') = 'text' THEN json_extract(r.value, '$.rule') END AS rule
                    FROM dlq_records d, json_each(CASE WHEN json_valid(d.reasons) THEN d.reasons ELSE '[]' END) r
                    \(filter)
                ) WHERE rule IS NOT NULL GROUP BY rule ORDER BY rule
                """,
            arguments: StatementArguments(runID.map { [$0] } ?? []))
        return rows.map { ($0[0], $0[1]) }
    }

    /// A run's events in the order they happened; `nil` when there is no such run.
    public static func events(_ db: Database, runID: String) throws -> [EventResource]? {
        guard try runExists(db, id: runID) else { return nil }
        return try Row.fetchAll(
            db, sql: "SELECT \(EventResource.columns) FROM etl_run_events WHERE run_id = ? ORDER BY at, id", arguments: [runID]
        ).map(EventResource.init(row:))
    }

    /// Users by id, optionally only one department's or those last changed by one run.
    public static func users(_ db: Database, department: String?, runID: String?, page: Pagination, masking: SecretMasking) throws -> Page<UserResource> {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let department {
            conditions.append("department = ?")
            arguments += [department]
        }
        if let runID {
            conditions.append("run_id = ?")
            arguments += [runID]
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users \(filter)", arguments: arguments) ?? 0
        let rows = try Row.fetchAll(
            db, sql: "SELECT \(UserResource.columns) FROM users \(filter) ORDER BY id LIMIT ? OFFSET ?",
            arguments: arguments + [page.limit, page.offset])
        return Page(total: total, items: rows.map { UserResource(row: $0, masking: masking) })
    }

    public static func user(_ db: Database, id: Int64, masking: SecretMasking) throws -> UserResource? {
        try Row.fetchOne(db, sql: "SELECT \(UserResource.columns) FROM users WHERE id = ?", arguments: [id])
            .map { UserResource(row: $0, masking: masking) }
    }
}
