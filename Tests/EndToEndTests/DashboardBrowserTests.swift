import EndToEndSupport
import Foundation
import GRDB
import PipelineCore
import PipelineDatabase
import Testing
import TestSupport

extension EndToEnd {
    /// The dashboard in a real headless browser (Debian's chromium) against the real API over the
    /// database a real pipeline run wrote: the run page opened mid-run turns to `completed` by
    /// itself, the runs page lists the run with its counts, the rule chart shows each rule's
    /// count as the database has it, and every page parses under a strict HTML5 parser.
    @Suite struct DashboardInBrowser {
        @Test(.enabled(if: Browser.shouldRun, "chromium is not installed (scripts/install-deps.sh installs it; required when CI is set)"))
        func aRunSeenInTheBrowserFromMidRunToCompleted() async throws {
            // 50 pages of 100 users, 1 s each: with the extractor's window of at most 8 pages in
            // flight (it starts at 1 and doubles), about 9 rounds, so the run is in flight for
            // 9 s or more before the transformer even starts.
            try await Pipeline.run(fixture: ["--delay-ms", "1000"]) { pipeline in
                try await pipeline.startDownstream()
                let extractor = try pipeline.start(.extractor, as: "extractor", ["--once"])
                let id = try await pipeline.onlyRun().rawValue
                let api = pipeline.apiURL
                guard try await eventually(within: .seconds(30), { try await Self.apiStatus(pipeline, id).map(Self.inFlight) ?? false }) else {
                    throw ChildProcessError("the API did not show run \(id) in flight within 30 s")
                }

                // Mid-run: the page polls by itself; the test only reads it.
                let status = "document.getElementById('run-status').getAttribute('data-status')"
                let live = try await Browser.open(api + "/ui/runs/\(id)", until: "\(status) === 'completed'", watch: status, timeout: 240)
                print("dashboard in browser: run \(id) showed \(live.watched.joined(separator: " → "))")
                #expect(live.until == true, "the page never said completed: it went \(live.watched)")
                #expect(live.reloaded == false, "the page was reloaded rather than refreshed in place")
                #expect(live.watched.first.map(Self.inFlight) == true, "opened mid-run: \(live.watched)")
                #expect(live.watched.last == "completed")
                #expect(live.dom.contains("data-in-flight=\"false\""), "it stops refreshing once the run ended")
                guard await extractor.waitForExit(timeout: .seconds(60)) else { throw ChildProcessError("the extractor did not exit") }

                let (counts, rules) = try await Self.stored(pipeline, id)
                #expect(counts["invalid"] ?? 0 > 0 && rules.count >= 2, "the fixture's bad rows break several rules: \(rules)")

                // The runs page: the run with its counts, as the database has them.
                let runs = try await Browser.open(api + "/ui/")
                let row = try #require(Self.slice(runs.dom, from: "<tr data-run-id=\"\(id)\">", to: "</tr>"), "the run's row")
                #expect(row.contains("data-status=\"completed\""))
                for (name, value) in counts {
                    #expect(row.contains("data-count=\"\(name)\">\(value)</td>"), "\(name) = \(value) in \(row)")
                }

                // The run page's chart: one bar per rule, labelled with the database's count.
                let run = try await Browser.open(api + "/ui/runs/\(id)")
                for (rule, count) in rules {
                    let bar = Self.slice(run.dom, from: "<g class=\"dlq-rule\" data-rule=\"\(rule)\" data-count=\"\(count)\">", to: "</g>")
                    #expect(bar?.contains(">\(count)</text>") == true, "\(rule): \(count) rows, bar: \(bar ?? "missing")")
                }
                #expect(run.dom.components(separatedBy: "<g class=\"dlq-rule\"").count - 1 == rules.count)

                // Every page as served parses with no error.
                var pages: [String: String] = [:]
                for (name, path) in [("runs", "/ui/"), ("run", "/ui/runs/\(id)"), ("users", "/ui/users?sort=-age"), ("bad", "/ui/?limit=0"), ("missing", "/ui/runs/none")] {
                    pages[name] = try await ChildProcess.run("curl", ["-sS", "--max-time", "10", api + path]).stdout
                }
                let problems = try await StrictHTMLCheck.problems(pages)
                #expect(problems.isEmpty, "\(problems)")
            }
        }

        static func inFlight(_ status: String) -> Bool { !["completed", "failed"].contains(status) }

        static func apiStatus(_ pipeline: Pipeline, _ id: String) async throws -> String? {
            let output = try await ChildProcess.run("curl", ["-fsS", "--max-time", "5", pipeline.apiURL + "/etl_runs/\(id)"])
            guard output.status == 0 else { return nil }
            return (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])?["status"] as? String
        }

        /// The run's counts and its rejected rows per rule, read from SQLite directly.
        static func stored(_ pipeline: Pipeline, _ id: String) async throws -> ([String: Int], [String: Int]) {
            let reader = try PipelineDatabase.openReader(path: pipeline.databasePath)
            defer { try? reader.close() }
            return try await reader.read { db in
                let row = try Row.fetchOne(
                    db, sql: "SELECT extracted, valid, invalid, loaded, unknown_department FROM etl_runs WHERE run_id = ?", arguments: [id])
                var counts: [String: Int] = [:]
                for name in ["extracted", "valid", "invalid", "loaded", "unknown_department"] { counts[name] = row?[name] }
                var rules: [String: Int] = [:]
                for text in try String.fetchAll(db, sql: "SELECT reasons FROM dlq_records WHERE run_id = ?", arguments: [id]) {
                    let reasons = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
                    for rule in Set(reasons.compactMap { $0["rule"] as? String }) { rules[rule, default: 0] += 1 }
                }
                return (counts, rules)
            }
        }

        static func slice(_ text: String, from start: String, to end: String) -> String? {
            guard let a = text.range(of: start), let b = text.range(of: end, range: a.upperBound..<text.endIndex) else { return nil }
            return String(text[a.lowerBound..<b.upperBound])
        }
    }
}
