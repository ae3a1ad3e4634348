import DummyJSONFixture
import Foundation
import PipelineCore
import PipelineRedis
import PipelineRuntime
import Testing
import TestSupport

/// A real `Extractor` SIGKILLed mid-run leaves its claim behind. Restarted with the same
/// `INSTANCE_ID`, it takes the claim over at once and finishes the run; another identity
/// still waits for the claim to expire (docs/RELIABILITY.md, "Restarts").
extension ExtractorSuites {
@Suite struct InstanceTakeoverTests {
    init() async throws {
        try await ExtractorTest.redis().flushdb()
    }

    @Test func anExtractorRestartedWithItsIdentityResumesItsRunWithoutWaitingOutTheClaim() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208, faults: FaultSettings(delayMs: 1000))) { _, port in
            // Slow pages (5 of 1 s), so the first extractor is still mid-run when the test kills it.
            // A claim that outlives the test's patience (the waits below are 60 s at most):
            // without a takeover the restarted extractor would wait 300 s and more.
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, [
                "CLAIM_TTL_SECONDS": "300", "PAGE_SIZE": "50", "INSTANCE_ID": "extractor-1",
            ])
            let redis = try ExtractorTest.redis()
            let ledger = RunLedger(redis: redis)
            let first = try ExtractorTest.launch(["--once"], env: env, log: dir.file("first.log"))
            defer { if first.isRunning { kill(first.pid, SIGKILL) } }
            var runID: RunID?
            let extracting = try await eventually(within: .seconds(30)) {
                guard let record = try await ledger.unfinishedExtraction(), record.status == .extracting,
                      record.checkpoint != nil else { return false }
                runID = record.id
                return true
            }
            #expect(extracting, "the first extractor never got into its pages")
            kill(first.pid, SIGKILL)
            _ = try await ExtractorTest.wait(first, limit: .seconds(30))
            let id = try #require(runID)
            let held = try await redis.get(LedgerKey.lock(.extract, id)).map { String(decoding: $0, as: UTF8.self) }
            #expect(held?.hasPrefix("extractor-1:") == true, "the dead extractor's claim is still there: \(held ?? "none")")

            // Another identity does not take it: it waits for the claim to expire.
            let other = try ExtractorTest.launch(["--once"], env: env.merging(["INSTANCE_ID": "extractor-2", "LOG_LEVEL": "info"]) { $1 },
                                                 log: dir.file("other.log"))
            defer { if other.isRunning { kill(other.pid, SIGKILL) } }
            let waiting = try await eventually(within: .seconds(30)) {
                (try? String(contentsOfFile: dir.file("other.log"), encoding: .utf8))?.contains("waiting for the claim to expire") == true
            }
            #expect(waiting, "another identity took the claim: \((try? String(contentsOfFile: dir.file("other.log"), encoding: .utf8)) ?? "")")
            kill(other.pid, SIGKILL)
            _ = try await ExtractorTest.wait(other, limit: .seconds(30))

            // The same identity takes it over and finishes the same run.
            #expect(try await ExtractorTest.once(env, log: dir.file("restarted.log")).status == 0)
            let record = try #require(try await ledger.run(id))
            #expect(record.status == .extracted)
            #expect(try await ledger.recentRuns() == [id], "the restart resumed the run instead of starting one")
            #expect(try await redis.get(LedgerKey.lock(.extract, id)) == nil, "the claim was released")
        }
    }
}
}
