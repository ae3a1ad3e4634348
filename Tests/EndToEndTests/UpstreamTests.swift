import EndToEndSupport
import Foundation
import PipelineCore
import Testing
import TestSupport

extension EndToEnd {
    /// Chaos scenarios 7–8: an upstream that fails, rate-limits, and goes down.
    @Suite struct Upstream {
        @Test("7. upstream answers 503 to every 3rd request, then a 429 storm with Retry-After: every page is retried to success, and the run ends as an undisturbed one")
        func failuresThenRateLimitStorm() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(fixture: ["--fail-every", "3"]) { p in
                try await p.startDownstream()
                let extractor = try p.start(.extractor, ["--once"])
                let id = try await p.onlyRun()
                try await p.waitForCheckpoint(id, pastSkip: 2_000)

                // The storm: one request a second; the rest get 429 with Retry-After: 1.
                try await p.setFaults(#"{"failEvery": 0, "rateLimit": 1, "rateWindowSeconds": 1, "retryAfterSeconds": 1}"#)
                #expect(try await eventually(within: .seconds(60)) { try await p.fixtureStats().byStatus["429", default: 0] >= 4 })
                try await p.setFaults(#"{"rateLimit": 0}"#)

                #expect(await extractor.waitForExit(timeout: .seconds(180)))
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                try await p.waitFor(id, [.completed, .failed])

                let stats = try await p.fixtureStats()
                let retries = extractor.lines(containing: "page request failed; retrying")
                #expect(retries.filter { $0.contains("HTTP 503") }.count == stats.byStatus["503", default: 0])
                #expect(retries.filter { $0.contains("HTTP 429") }.count == stats.byStatus["429", default: 0])
                #expect(stats.byStatus["503", default: 0] >= 10)
                // Retry-After: 1 set the wait of every 429 (the schedule alone would wait 0.2 s first).
                #expect(retries.filter { $0.contains("HTTP 429") }.allSatisfy { $0.contains("wait_s=1.00") }, "\(retries)")

                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("8. upstream down longer than the retry budget: the run is failed in phase extract (GET /etl_runs says so), no file is complete on the server; the next cycle resumes it and it ends as an undisturbed run")
        func upstreamDownBeyondTheRetryBudget() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(fixture: ["--delay-ms", "20"]) { p in
                try await p.startDownstream()
                let first = try p.start(.extractor, as: "extractor-first-cycle", ["--once"])
                let id = try await p.onlyRun()
                try await p.waitForCheckpoint(id, pastSkip: 1_500)
                try await p.setFaults(#"{"down": true}"#)

                #expect(await first.waitForExit(timeout: .seconds(120)))
                #expect(first.exitStatus != 0, "a failed cycle exits non-zero")
                let failed = try #require(try await p.record(id))
                #expect(failed.status == .failed)
                #expect(failed.failedPhase == .extract)
                #expect(failed.error?.contains("503") == true, "\(failed.error ?? "-")")
                #expect(failed.checkpoint != nil, "the checkpoint is kept for the next cycle")

                // The failure as a user sees it.
                #expect(try await eventually(within: .seconds(30)) {
                    let runs = try await p.getJSON(p.apiURL + "/etl_runs") as? [[String: Any]] ?? []
                    return runs.count == 1 && runs[0]["status"] as? String == "failed" && runs[0]["failed_phase"] as? String == "extract"
                })
                let run = try await p.getJSON(p.apiURL + "/etl_runs/\(id)") as? [String: Any] ?? [:]
                #expect((run["error"] as? String)?.contains("503") == true, "\(run)")
                // Chunks sealed before the outage may be saved already; nothing on the server is
                // complete (only .part files), and no row is from past the checkpoint.
                #expect(p.uploadedNames().allSatisfy { $0.hasSuffix(".part") }, "\(p.uploadedNames())")
                let rows = try await p.rowCount("raw_users")
                #expect(rows % Pipeline.chunkUsers == 0 && rows <= (failed.checkpoint?.skip ?? 0), "whole chunks only: \(rows)")

                // The upstream is back; the next cycle resumes the failed run from its checkpoint.
                try await p.setFaults(#"{"down": false}"#)
                let next = try await p.extractOnce(as: "extractor-next-cycle")
                #expect(next.exitStatus == 0, "\(next.tail())")
                #expect(next.lines(containing: "resuming").count == 1, "\(next.tail())")
                try await p.waitFor(id, [.completed, .failed])

                try await p.expectSameEnd(as: reference)
            }
        }
    }
}
