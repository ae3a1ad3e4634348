import Foundation
import Hummingbird
import PipelineCore
import PipelineDatabase
import PipelineJSON

extension DashboardRoutes {
    /// `/ui/runs/{run_id}`: the phase timeline, rejected rows per rule as a bar chart, the
    /// rejected rows (paged by `limit`/`offset`, masked as on `/etl_runs/{run_id}/dlq`), the
    /// files and the events; it refreshes itself while the run is in flight.
    func runPage(_ request: Request, runID: String, _ resources: DashboardResources) async throws -> Response {
        let page = try QueryParameters(query: request.uri.query).pagination()
        let masking = masking
        let read = try await database.read { db -> RunData? in
            guard let run = try Queries.run(db, id: runID),
                let events = try Queries.events(db, runID: runID),
                let deadLetters = try Queries.deadLetters(db, runID: runID, page: page, masking: masking),
                let rules = try Queries.deadLetterFacet(
                    db, runID: runID, column: "rule", page: Pagination(limit: Pagination.maximumLimit, offset: 0))
            else { return nil }
            return RunData(run: run, events: events, deadLetters: deadLetters, rules: rules.items)
        }
        guard let read else { throw APIError.notFound("run", "run_id", .string(runID)) }
        let run = read.run
        let spans = PhaseTimeline.spans(read.events)
        let (start, end) = Self.timeSpan(of: run, spans: spans, now: Date())
        let inFlight = DashboardQueries.isInFlight(run.status)
        var context: [String: Any] = [
            "title": "Run \(run.runID)",
            "inFlight": inFlight,
            "runID": run.runID, "status": run.status, "statusClass": Self.statusClass(run.status),
            "startedAt": DashboardFormat.timestamp(run.startedAt), "finishedAt": DashboardFormat.timestamp(run.finishedAt),
            "duration": inFlight ? "running" : DashboardFormat.duration(milliseconds: run.durationMs),
            "extracted": DashboardFormat.count(run.extracted), "valid": DashboardFormat.count(run.valid),
            "invalid": DashboardFormat.count(run.invalid), "loaded": DashboardFormat.count(run.loaded),
            "unknownDepartment": DashboardFormat.count(run.unknownDepartment),
            "dlqTotal": String(read.deadLetters.total),
            "hasDeadLetters": read.deadLetters.total > 0,
            "deadLetters": read.deadLetters.items.map(Self.deadLetterRow),
            "pager": DashboardLinks.pager(
                path: DashboardLinks.run(run.runID), parameters: [], page: page, total: read.deadLetters.total, fragment: "dlq"),
            "files": Self.fileRows(run),
            "hasFiles": !(run.stagedFiles.isEmpty && run.remoteFiles.isEmpty),
            "events": read.events.map { event in
                ["at": DashboardFormat.timestamp(event.at), "stage": event.stage, "event": event.event, "detail": event.detail ?? ""]
            },
            "jsonHref": "/etl_runs/" + DashboardLinks.encode(run.runID),
            "jsonEventsHref": "/etl_runs/" + DashboardLinks.encode(run.runID) + "/events",
            "jsonDeadLettersHref": "/etl_runs/" + DashboardLinks.encode(run.runID) + "/dlq",
        ]
        if let timeline = SVGCharts.timeline(spans, runStart: start, runEnd: end) { context["timeline"] = timeline }
        if let rules = SVGCharts.ruleBars(read.rules) { context["rules"] = rules }
        if let error = run.error {
            context["error"] = error
            context["failedIn"] = run.failedPhase ?? "an unknown phase"
        }
        return DashboardPage.html(resources.render("run", context))
    }

    /// What one read transaction gives the run page.
    struct RunData: Sendable {
        var run: RunResource
        var events: [EtlRunEvent]
        var deadLetters: Page<DLQResource>
        var rules: [Facet]
    }

    /// A rejected row: its reasons and its payload as masked JSON text (the same masking as the
    /// JSON endpoint: ``Queries/deadLetters(_:runID:page:masking:)``).
    static func deadLetterRow(_ letter: DLQResource) -> [String: Any] {
        [
            "line": String(letter.line),
            "reasons": letter.reasons.map { ["field": $0.field, "rule": $0.rule, "message": $0.message] },
            "payload": JSONWriter.string(letter.payload),
        ]
    }

    static func fileRows(_ run: RunResource) -> [[String: Any]] {
        let files = run.stagedFiles.map { ("staged", $0) } + run.remoteFiles.map { ("uploaded", $0) }
        return files.map { kind, file in
            [
                "kind": kind, "name": file.name, "rows": DashboardFormat.count(file.rows),
                "bytes": file.bytes.map(String.init) ?? "unknown", "size": DashboardFormat.bytes(file.bytes), "sha256": file.sha256 ?? "–",
            ]
        }
    }
}
