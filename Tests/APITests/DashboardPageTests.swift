import APICore
import APITestData
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PipelineJSON
import Testing
import TestSupport

/// The HTML dashboard under `/ui/` rendered over the sample database (the saver's own
/// transactions, `SampleDatabase`): what each page shows against what was written, its links,
/// its headers, and its error pages.
@Suite struct DashboardPageTests {
    @Test func rootRedirectsToTheDashboardAndJSONPathsStayJSON() async throws {
        try await SampleFixture.serving(runCount: 2) { _, client in
            let root = try await client.execute(uri: "/", method: .get)
            #expect(root.status == .found)
            #expect(root.headers[.location] == "/ui/")
            #expect(root.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            for path in ["/etl_runs", "/users"] {
                let response = try await client.execute(uri: path, method: .get)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(path)")
            }
            #expect(try await client.page("/ui").status == .ok)
        }
    }

    @Test func runsPageListsEveryRunWithItsCountsStatusAndPhases() async throws {
        try await SampleFixture.serving { fixture, client in
            let page = try await client.page("/ui/")
            #expect(page.status == .ok)
            #expect(page.contentType == "text/html; charset=utf-8")
            #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'self'") == true)
            #expect(page.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(page.html.contains("<body data-in-flight=\"false\">"))
            #expect(page.html.contains("14 runs in all."))
            for run in fixture.runs {
                let row = try #require(page.runRow(run.runID.rawValue), "row of \(run.runID)")
                #expect(row.contains("data-status=\"\(run.status.rawValue)\""))
                let counts = [
                    ("extracted", run.counts.extracted), ("valid", run.counts.valid), ("invalid", run.counts.invalid),
                    ("loaded", run.counts.loaded), ("unknown_department", run.counts.unknownDepartment),
                ]
                for (name, value) in counts {
                    #expect(row.contains("data-count=\"\(name)\">\(value.map(String.init) ?? "–")</td>"), "\(run.runID) \(name)")
                }
                // One bar per phase that started, coloured by how it ended.
                let phases: [(String, String)] = switch run.failedPhase?.rawValue {
                case "transform": [("extract", "completed"), ("transform", "failed")]
                case "save": [("extract", "completed"), ("transform", "completed"), ("save", "failed")]
                default: [("extract", "completed"), ("transform", "completed"), ("save", "completed")]
                }
                for (phase, state) in phases {
                    #expect(row.contains("class=\"phase \(phase) \(state)\""), "\(run.runID): \(phase) \(state)")
                }
                #expect(row.components(separatedBy: "class=\"phase ").count - 1 == phases.count)
            }
            // Newest first, as /etl_runs.
            let order = fixture.runsNewestFirst.map { page.html.range(of: "data-run-id=\"\($0.runID)\"")!.lowerBound }
            #expect(order == order.sorted())
        }
    }

    @Test func runsPagePagesWithLinksThatKeepTheFilter() async throws {
        try await SampleFixture.serving { _, client in
            let first = try await client.page("/ui/?limit=5")
            #expect(first.count("<tr data-run-id=") == 5)
            #expect(first.html.contains("href=\"/ui/?limit=5&amp;offset=5\">Next"))
            #expect(!first.html.contains("rel=\"prev\""))
            #expect(first.html.contains("1–5 of 14"))
            let middle = try await client.page("/ui/?limit=5&offset=5")
            #expect(middle.html.contains("href=\"/ui/?limit=5\">← Previous"))
            #expect(middle.html.contains("href=\"/ui/?limit=5&amp;offset=10\">Next"))
            let last = try await client.page("/ui/?limit=5&offset=10")
            #expect(last.count("<tr data-run-id=") == 4)
            #expect(!last.html.contains("rel=\"next\""))
            let failed = try await client.page("/ui/?status=failed&limit=2")
            #expect(failed.count("<tr data-run-id=") == 2)
            #expect(failed.html.contains("href=\"/ui/?status=failed&amp;limit=2&amp;offset=2\">Next"))
        }
    }

    @Test func runPageShowsTimelineRuleChartRowsFilesAndEvents() async throws {
        try await SampleFixture.serving(runCount: 3) { fixture, client in
            let run = fixture.runs[0]
            let id = run.runID.rawValue
            let page = try await client.page("/ui/runs/\(id)")
            #expect(page.status == .ok)
            #expect(page.html.contains("id=\"run-status\" class=\"status ok\" data-status=\"completed\">completed</span>"))
            for phase in ["extract", "transform", "save"] {
                #expect(page.html.contains("<g class=\"phase-row\" data-phase=\"\(phase)\" data-state=\"completed\">"), "\(phase)")
            }
            // Each rule's bar carries its count: rows per rule among the reasons written.
            var expected: [String: Int] = [:]
            for line in run.dlqLines {
                let reasons = try JSONValue.parse(line)["reasons"]?.arrayValue ?? []
                for rule in Set(reasons.compactMap { $0["rule"]?.stringValue }) { expected[rule, default: 0] += 1 }
            }
            #expect(expected.count == 4)
            for (rule, count) in expected {
                #expect(page.html.contains("<g class=\"dlq-rule\" data-rule=\"\(rule)\" data-count=\"\(count)\">"), "\(rule)")
            }
            #expect(page.count("<g class=\"dlq-rule\"") == expected.count)
            // Every rejected row with its reasons.
            #expect(page.html.contains("Rejected rows <span class=\"muted\">(\(run.dlqLines.count))</span>"))
            #expect(page.html.contains("<span class=\"rule\">email_format</span>"))
            // Files with sizes and SHA-256.
            for file in run.remoteFiles {
                #expect(page.html.contains("<td>\(file.name)</td>"))
                #expect(page.html.contains("<code class=\"hash\">\(file.sha256)</code>"))
                #expect(page.html.contains("title=\"\(file.bytes) bytes\""))
            }
            for event in run.events {
                #expect(page.html.contains("<td>\(event.stage)</td><td>\(event.event)</td>"), "\(event.event)")
            }
            let failed = try await client.page("/ui/runs/\(fixture.runs[3 % fixture.runs.count].runID)")
            #expect(failed.status == .ok)
        }
    }

    @Test func failedRunShowsItsErrorAndTheFailedPhase() async throws {
        try await SampleFixture.serving(runCount: 4) { fixture, client in
            let run = fixture.runs[3]
            #expect(run.failedPhase == .transform)
            let page = try await client.page("/ui/runs/\(run.runID)")
            #expect(page.html.contains("Failed in transform: \(run.error!)"))
            #expect(page.html.contains("data-phase=\"transform\" data-state=\"failed\""))
            #expect(!page.html.contains("data-phase=\"save\""))
            #expect(page.html.contains("No rejected rows."))
        }
    }

    @Test func runPagePagesItsRejectedRows() async throws {
        try await SampleFixture.serving(runCount: 1) { fixture, client in
            let id = fixture.runs[0].runID.rawValue
            let first = try await client.page("/ui/runs/\(id)?limit=1")
            #expect(first.count("<code class=\"payload\">") == 1)
            #expect(first.html.contains("href=\"/ui/runs/\(id)?limit=1&amp;offset=1#dlq\">Next"))
            let last = try await client.page("/ui/runs/\(id)?limit=1&offset=2")
            #expect(last.html.contains("href=\"/ui/runs/\(id)?limit=1&amp;offset=1#dlq\">← Previous"))
            #expect(!last.html.contains("rel=\"next\""))
        }
    }

    /// Found by schemathesis: an offset near Int.max broke the pager's arithmetic.
    @Test func offsetsPastTheEndShowAnEmptyPageWithALinkBack() async throws {
        try await SampleFixture.serving(runCount: 2) { fixture, client in
            let id = fixture.runs[0].runID.rawValue
            for uri in ["/ui/?offset=\(Int.max)", "/ui/runs/\(id)?offset=\(Int.max)&limit=500", "/ui/users?offset=\(Int.max)&limit=500"] {
                let page = try await client.page(uri)
                #expect(page.status == .ok, "\(uri)")
                #expect(page.html.contains("no rows here"), "\(uri)")
                #expect(page.html.contains("rel=\"prev\""), "\(uri)")
                #expect(!page.html.contains("rel=\"next\""), "\(uri)")
            }
        }
    }

    @Test func errorsArePages() async throws {
        let fixture = try await SampleFixture(runCount: 1)
        try await fixture.app().test(.router) { client in
            for uri in ["/ui/?limit=abc", "/ui/?status=bogus", "/ui/runs/x?offset=-1", "/ui/users?sort=password", "/ui/users?id=abc", "/ui/users?limit=0"] {
                let page = try await client.page(uri)
                #expect(page.status == .badRequest, "\(uri)")
                #expect(page.contentType == "text/html; charset=utf-8", "\(uri)")
                #expect(page.html.contains("<h1>400 Bad Request</h1>"), "\(uri)")
                #expect(page.html.contains("invalid query parameter"), "\(uri)")
            }
            for uri in ["/ui/runs/no-such-run", "/ui/nothing/here", "/ui/static/missing.css", "/ui/runs/", "/ui/static", "/ui/runs/x/y"] {
                let page = try await client.page(uri)
                #expect(page.status == .notFound, "\(uri)")
                #expect(page.html.contains("<h1>404 Not Found</h1>"), "\(uri)")
            }
            #expect(try await client.page("/ui/runs/no-such-run").html.contains("no run with run_id &quot;no-such-run&quot;"))
        }
        let empty = LazyReader(path: fixture.directory.file("missing.db"))
        try await Application(router: APIServer.router(database: empty, logger: LogCapture().logger)).test(.router) { client in
            let page = try await client.page("/ui/")
            #expect(page.status == .serviceUnavailable)
            #expect(page.headers[.retryAfter] == "5")
            #expect(page.html.contains("The database is not ready yet"))
            #expect(page.html.contains("data-in-flight=\"true\""))
        }
    }

    @Test func staticFilesAreServedWithTheirTypes() async throws {
        try await SampleFixture.serving(runCount: 1) { _, client in
            let script = try await client.execute(uri: "/ui/static/dashboard.js", method: .get)
            #expect(script.status == .ok)
            #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(String(buffer: script.body).contains("data-in-flight"))
            let style = try await client.execute(uri: "/ui/static/dashboard.css", method: .get)
            #expect(style.headers[.contentType] == "text/css; charset=utf-8")
            // No page refers to anything but this server.
            let page = try await client.page("/ui/")
            #expect(!page.html.contains("http://") && !page.html.contains("https://") && !page.html.contains("//cdn"))
            #expect(page.count("<script") == 1 && page.html.contains("<script src=\"/ui/static/dashboard.js\" defer></script>"))
        }
    }
}

/// The timeline's axis: ticks at round times from the run's start.
@Suite struct DashboardChartTests {
    @Test func timelineTicksFallOnRoundTimes() async throws {
        try await SampleFixture.serving(runCount: 1) { fixture, client in
            let run = fixture.runs[0]
            #expect(run.durationMS == 7375)
            let page = try await client.page("/ui/runs/\(run.runID)")
            let labels = page.html.components(separatedBy: "<text class=\"axis\"").dropFirst().compactMap { part in
                part.split(separator: ">", maxSplits: 1).last?.split(separator: "<").first.map(String.init)
            }
            #expect(labels == ["0 ms", "2.0 s", "4.0 s", "6.0 s"])
        }
    }
}

/// A run still in flight: both pages mark themselves for refreshing (the script, and a
/// `<noscript>` meta refresh without it) and draw the running phase up to now.
@Suite struct DashboardInFlightTests {
    @Test func pagesOfARunInFlightRefreshThemselves() async throws {
        var runs = SampleRunGenerator(usersPerRun: 4).runs(count: 2)
        // The second run as the saver mirrors it mid-transform: extract done, transform started.
        runs[1].status = .transforming
        runs[1].finishedAt = nil
        runs[1].counts.valid = nil
        runs[1].counts.invalid = nil
        runs[1].counts.loaded = nil
        runs[1].counts.unknownDepartment = nil
        runs[1].events = Array(runs[1].events.prefix { !($0.stage == "transform" && $0.event != "started") })
        runs[1].rawMaskedLines = []
        runs[1].remoteFiles = []
        let directory = TemporaryDirectory("dashboard-in-flight")
        let path = directory.file("database/data.db")
        try await SampleDatabase.write(runs, to: path)
        let app = Application(router: APIServer.router(database: LazyReader(path: path), logger: LogCapture().logger))
        let refresh = "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>"
        let (finished, live) = (runs[0].runID.rawValue, runs[1].runID.rawValue)
        try await app.test(.router) { client in
            let list = try await client.page("/ui/")
            #expect(list.html.contains("<body data-in-flight=\"true\">") && list.html.contains(refresh))
            let row = try #require(list.runRow(live))
            #expect(row.contains("data-status=\"transforming\"") && row.contains("class=\"status running\""))
            #expect(row.contains("class=\"phase transform running\""))
            let page = try await client.page("/ui/runs/\(live)")
            #expect(page.html.contains("<body data-in-flight=\"true\">") && page.html.contains(refresh))
            #expect(page.html.contains("data-phase=\"transform\" data-state=\"running\""))
            #expect(page.html.contains(">running</text>"))
            // A finished run's page does not refresh, though another run is in flight.
            let done = try await client.page("/ui/runs/\(finished)")
            #expect(done.html.contains("<body data-in-flight=\"false\">") && !done.html.contains("http-equiv"))
        }
    }
}
