import GRDB
import PipelineCore

/// The reads only the dashboard needs; everything else comes from ``Queries``, the same reads
/// (and the same masking) as the JSON endpoints.
enum DashboardQueries {
    /// The statuses of a run nothing has ended yet.
    static let inFlightStatuses = RunStatus.allCases.filter { $0 != .completed && $0 != .failed }.map(\.rawValue)

    static func isInFlight(_ status: String) -> Bool {
        inFlightStatuses.contains(status)
    }

    /// Whether any run is still in flight: the runs page refreshes itself until none is.
    static func anyRunInFlight(_ db: Database) throws -> Bool {
        let placeholders = inFlightStatuses.map { _ in "?" }.joined(separator: ", ")
        return try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM etl_runs WHERE status IN (\(placeholders)))",
            arguments: StatementArguments(inFlightStatuses)) ?? false
    }

    /// The phase events (`started`, `completed`, `failed`) of the runs on one page, by run id, in
    /// the order they happened: one query for the page rather than one per run.
    static func phaseEvents(_ db: Database, runIDs: [String]) throws -> [String: [EventResource]] {
        guard !runIDs.isEmpty else { return [:] }
        let placeholders = runIDs.map { _ in "?" }.joined(separator: ", ")
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT \(EventResource.columns) FROM etl_run_events
                WHERE run_id IN (\(placeholders)) AND event IN ('started', 'completed', 'failed') ORDER BY run_id, at, id
                """,
            arguments: StatementArguments(runIDs))
        return Dictionary(grouping: rows.map(EventResource.init(row:)), by: \.runID)
    }
}
