import Foundation
import Hummingbird
import PipelineCore
import PipelineDatabase

extension DashboardRoutes {
    /// `/ui/`: the runs, newest first, with their counts, durations and a bar per phase; it
    /// refreshes itself while any run is in flight (`limit`, `offset` and `status` as on `/etl_runs`).
    func runsPage(_ request: Request, _ resources: DashboardResources) async throws -> Response {
        let query = QueryParameters(query: request.uri.query)
        let page = try query.pagination()
        let status = try query.runStatus()
        let (result, events, inFlight) = try await database.read { db in
            let result = try Queries.runs(db, status: status, page: page)
            return (result, try DashboardQueries.phaseEvents(db, runIDs: result.items.map(\.runID)), try DashboardQueries.anyRunInFlight(db))
        }
        let now = Date()
        let context: [String: Any] = [
            "title": "Runs",
            "inFlight": inFlight,
            "summary": result.total == 1 ? "1 run in all." : "\(result.total) runs in all.",
            "runs": result.items.map { Self.runRow($0, events: events[$0.runID] ?? [], now: now) },
            "pager": DashboardLinks.pager(path: "/ui/", parameters: [("status", status)], page: page, total: result.total),
        ]
        return DashboardPage.html(resources.render("runs", context))
    }

    static func runRow(_ run: RunResource, events: [EtlRunEvent], now: Date) -> [String: Any] {
        let spans = PhaseTimeline.spans(events)
        let (start, end) = timeSpan(of: run, spans: spans, now: now)
        var row: [String: Any] = [
            "runID": run.runID, "href": DashboardLinks.run(run.runID),
            "status": run.status, "statusClass": statusClass(run.status),
            "startedAt": DashboardFormat.timestamp(run.startedAt),
            "duration": DashboardQueries.isInFlight(run.status) ? "running" : DashboardFormat.duration(milliseconds: run.durationMs),
            "extracted": DashboardFormat.count(run.extracted), "valid": DashboardFormat.count(run.valid),
            "invalid": DashboardFormat.count(run.invalid), "loaded": DashboardFormat.count(run.loaded),
            "unknownDepartment": DashboardFormat.count(run.unknownDepartment),
            "phaseBars": SVGCharts.phaseBars(spans, runStart: start, runEnd: end, width: 120),
        ]
        if let failedPhase = run.failedPhase { row["failedIn"] = failedPhase }
        return row
    }

    /// The time a run's charts cover: from its start to its end, or to now while it is in flight
    /// (to its last event when neither is known).
    static func timeSpan(of run: RunResource, spans: [PhaseSpan], now: Date) -> (Date, Date) {
        let start = Timestamp.parse(run.startedAt) ?? spans.first?.start ?? now
        let lastEvent = spans.map { $0.end ?? $0.start }.max() ?? start
        let end: Date
        if let finished = run.finishedAt.flatMap(Timestamp.parse) {
            end = finished
        } else if DashboardQueries.isInFlight(run.status) {
            end = max(now, lastEvent)
        } else {
            end = lastEvent
        }
        return (start, max(end, start))
    }

    /// `ok` (completed), `failed`, or `running` (anything in flight): the status badge's colour.
    static func statusClass(_ status: String) -> String {
        switch status {
        case RunStatus.completed.rawValue: "ok"
        case RunStatus.failed.rawValue: "failed"
        default: "running"
        }
    }
}
