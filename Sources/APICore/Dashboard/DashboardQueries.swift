import GRDB
import PipelineCore
import PipelineDatabase

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
        try !EtlRun.filter(inFlightStatuses.contains(EtlRun.Columns.status)).isEmpty(db)
    }

    /// The phase events (`started`, `completed`, `failed`) of the runs on one page, by run id, in
    /// the order they happened: one query for the page rather than one per run.
    static func phaseEvents(_ db: Database, runIDs: [String]) throws -> [String: [EtlRunEvent]] {
        guard !runIDs.isEmpty else { return [:] }
        typealias C = EtlRunEvent.Columns
        let events = try EtlRunEvent.filter(runIDs.contains(C.runID) && ["started", "completed", "failed"].contains(C.event))
            .order(C.runID, C.at, C.id).fetchAll(db)
        return Dictionary(grouping: events, by: \.runID)
    }
}
