import DummyJSONFixture
import Foundation
import PipelineCore
import PipelineRedis
import PipelineRuntime
import Testing
import TestSupport

/// A real `Extractor` killed by SIGKILL on the same run, again and again (docs/RELIABILITY.md,
/// "Hostile input"): after three deaths in a row the next start fails the run with that
/// reason instead of trying it a fourth time, and the start after that begins a new run.
extension ExtractorSuites {
@Suite struct CrashLoopProcessTests {
    init() async throws {
        try await ExtractorTest.redis().flushdb()
    }

    @Test func anExtractorKilledThreeTimesInARowOnARunFailsItOnTheFourthStart() async throws {
        let dir = TemporaryDirectory()
        // Slow pages (5 of 1 s): each process is still in its first pages when it is killed, even
        // when the test sees its attempt late on a loaded machine.
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208, faults: FaultSettings(delayMs: 1000))) { server, port in
            // A short claim TTL: each start waits out the dead process's claim.
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["CLAIM_TTL_SECONDS": "1", "PAGE_SIZE": "50"])
            let ledger = RunLedger(redis: try ExtractorTest.redis())
            var runID: RunID?
            for death in 1...CrashLoop.maxConsecutiveDeaths {
                let process = try ExtractorTest.launch(["--once"], env: env, log: dir.file("killed-\(death).log"))
                defer { if process.isRunning { kill(process.pid, SIGKILL) } }
                // Killed once its attempt is counted and it is fetching pages.
                let counted = try await eventually(within: .seconds(30)) {
                    guard let record = try await ledger.unfinishedExtraction() else { return false }
                    runID = record.id
                    return record.attempts[.extract] == death && record.status == .extracting
                }
                #expect(counted, "attempt \(death) was not counted")
                kill(process.pid, SIGKILL)
                _ = try await ExtractorTest.wait(process, limit: .seconds(30))
                #expect(process.terminationReason == .uncaughtSignal)
            }
            let id = try #require(runID)
            #expect(try await ledger.recentRuns() == [id], "every start resumed the same run")

            // The fourth start: one clear line, exit 1, no page fetched.
            let requestsBefore = server.controller.stats().requests
            let fourth = try await ExtractorTest.once(env.merging(["LOG_LEVEL": "critical"]) { $1 }, log: dir.file("fourth.log"))
            #expect(fourth.status == 1)
            let lines = fourth.lines
            #expect(lines.count == 1, "one line: \(lines)")
            let line = try #require(lines.first)
            #expect(line.contains("extraction of run \(id) failed: the extractor died 3 times in a row on this run; not retried (last attempt started at "),
                    "\(line)")
            #expect(server.controller.stats().requests == requestsBefore)
            let record = try #require(try await ledger.run(id))
            #expect(record.status == .failed)
            #expect(record.failedPhase == .extract)
            #expect(record.error?.hasPrefix("the extractor died 3 times in a row on this run") == true)

            // The next start leaves that run failed and extracts a new one.
            #expect(try await ExtractorTest.once(env, log: dir.file("fifth.log")).status == 0)
            let runs = try await ledger.recentRuns()
            #expect(runs.count == 2 && runs.last == id, "\(runs)")
            #expect(try await ledger.run(runs[0])?.status == .extracted)
            #expect(try await ledger.run(id)?.status == .failed)
        }
    }
}
}
