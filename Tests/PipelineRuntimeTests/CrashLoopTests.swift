import Foundation
import Logging
import PipelineCore
import PipelineRedis
import PipelineRuntime
import Synchronization
import Testing
import TestSupport

/// The attempt count in the ledger (docs/STAGING.md, "Attempts"): only attempts that ended with
/// the process count, and a stage that died three times in a row on a run fails it.
extension LedgerTests {
    @Test func anAttemptIsCountedOncePerTokenAndTheFourthAfterThreeDeathsIsRefused() async throws {
        let id = RunID()
        _ = try await ledger.startRun(id)
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        #expect(try await ledger.beginAttempt(.extract, run: id, token: "a", at: at) == .began(number: 1))
        #expect(try await ledger.beginAttempt(.extract, run: id, token: "a", at: at) == .began(number: 1), "a retried call counts once")
        #expect(try await ledger.beginAttempt(.extract, run: id, token: "b", at: at) == .began(number: 2))
        #expect(try await ledger.beginAttempt(.extract, run: id, token: "c", at: at) == .began(number: 3))
        #expect(try await ledger.run(id)?.attempts[.extract] == 3)
        let refused = try await ledger.beginAttempt(.extract, run: id, token: "d", at: at.addingTimeInterval(60))
        let loop = CrashLoop(phase: .extract, deaths: 3, lastStartedAt: Timestamp.format(at), lastOwner: "c")
        #expect(refused == .refused(loop))
        #expect(loop.description == "the extractor died 3 times in a row on this run; not retried (last attempt started at \(Timestamp.format(at)) by c)")
        #expect(try await ledger.run(id)?.attempts[.extract] == 3, "a refused attempt is not counted")
        #expect(try await ledger.beginAttempt(.transform, run: id, token: "e") == .began(number: 1), "each phase counts its own")

        // Ending an attempt that is no longer the latest (its claim was lost) changes nothing.
        try await ledger.endAttempt(.extract, run: id, token: "b")
        #expect(try await ledger.run(id)?.attempts[.extract] == 3)
        try await ledger.endAttempt(.extract, run: id, token: "c")
        #expect(try await ledger.run(id)?.attempts[.extract] == nil)
        let fields = try await redis.hgetall(LedgerKey.run(id))
        #expect(RunRecord.Field.attemptFields(.extract).allSatisfy { fields[$0] == nil })

        // An unknown run is never created by counting.
        let ghost = RunID()
        #expect(try await ledger.beginAttempt(.save, run: ghost, token: "x") == .began(number: 0))
        #expect(try await ledger.run(ghost) == nil)
    }

    @Test func completingOrFailingAPhaseClearsItsCountButACrashLoopFailureIsFinal() async throws {
        let done = RunID(startingAt: Date(timeIntervalSinceNow: -30))
        _ = try await ledger.startRun(done)
        _ = try await ledger.beginAttempt(.extract, run: done, token: "a")
        _ = try await ledger.beginAttempt(.extract, run: done, token: "b")
        try await ledger.completePhase(.extract, run: done, files: [], counts: ["extracted": 0])
        #expect(try await ledger.run(done)?.attempts[.extract] == nil)

        let failed = RunID(startingAt: Date(timeIntervalSinceNow: -20))
        _ = try await ledger.startRun(failed)
        _ = try await ledger.beginAttempt(.extract, run: failed, token: "a")
        try await ledger.failPhase(.extract, run: failed, error: "upstream total changed")
        #expect(try await ledger.run(failed)?.attempts[.extract] == nil)
        #expect(try await ledger.unfinishedExtraction()?.id == failed, "a failed extraction is resumed")

        let looped = RunID(startingAt: Date(timeIntervalSinceNow: -10))
        _ = try await ledger.startRun(looped)
        for token in ["a", "b", "c"] { _ = try await ledger.beginAttempt(.extract, run: looped, token: token) }
        #expect(try await ledger.unfinishedExtraction()?.id == looped, "still extracting: the next start must fail it")
        guard case .refused(let loop) = try await ledger.beginAttempt(.extract, run: looped, token: "d") else {
            Issue.record("the fourth attempt was not refused")
            return
        }
        try await ledger.failPhase(.extract, run: looped, error: loop.description, keepAttempts: true)
        let record = try #require(try await ledger.run(looped))
        #expect(record.attempts[.extract] == 3)
        #expect(!RunLedger.isUnfinishedExtraction(record))
        #expect(try await ledger.unfinishedExtraction()?.id == failed, "a crash-looped extraction is not resumed: the older failure is")
    }
}

extension PhaseWorkerTests {
    /// Simulates a transformer that died holding the claim of the run's chunk 0: counted, never ended.
    func die(on id: RunID, _ n: Int) async throws {
        #expect(try await ledger.beginAttempt(.transform, run: id, chunk: 0, token: "host:\(1000 + n):dead") == .began(number: n))
    }

    @Test func aRunOnWhichTheStageDiedThreeTimesInARowIsFailedWithThatReason() async throws {
        let id = try await extractedRun()
        for n in 1...3 { try await die(on: id, n) }
        let signals = try await SignalListener(Self.url, [.runFailed])

        let recorder = Recorder()
        await worker(recorder).reconcile(reason: "test")
        #expect(recorder.calls.withLock { $0 } == [:], "no fourth attempt")
        let record = try #require(try await ledger.run(id))
        #expect(record.status == .failed)
        #expect(record.failedPhase == .transform)
        let error = try #require(record.error)
        #expect(error.hasPrefix("the transformer died 3 times in a row on this run; not retried (last attempt started at "), "\(error)")
        #expect(error.hasSuffix(" by host:1003:dead)"), "\(error)")
        let signal = try #require(try await signals.next(for: id), "no run_failed signal")
        #expect(signal.error == error)

        await worker(recorder).reconcile(reason: "test")
        #expect(recorder.calls.withLock { $0 } == [:], "a failed run is final downstream")
    }

    @Test func twoDeathsThenASuccessClearTheCount() async throws {
        let id = try await extractedRun()
        for n in 1...2 { try await die(on: id, n) }
        let recorder = Recorder()
        await worker(recorder).reconcile(reason: "test")
        #expect(recorder.calls.withLock { $0 } == [id: 1])
        let record = try #require(try await ledger.run(id))
        #expect(record.status == .transformed)
        #expect(try await chunkAttempts(id) == nil)
    }

    @Test func aGracefulStopIsNotADeath() async throws {
        let id = try await extractedRun()
        let started = Mutex(0)
        let worker = PhaseWorker(phase: .transform, redis: redis, redisURL: Self.url, claims: RunClaims(redis: redis, ttl: .seconds(2)),
                                 reconcileInterval: .seconds(60), logger: Logger(label: "test"), work: .eachChunk { _, _, _ in
            started.withLock { $0 += 1 }
            try await Task.sleep(for: .seconds(600))
            throw CancellationError()
        })
        // Four graceful stops in the middle of the work: each ends its attempt, so none is refused.
        for stop in 1...4 {
            let task = Task { await worker.process(id, chunk: 0, logger: Logger(label: "test")) }
            #expect(try await eventually(within: .seconds(10)) { started.withLock { $0 } == stop })
            #expect(try await chunkAttempts(id) == 1)
            task.cancel()
            _ = await task.value
            #expect(try await chunkAttempts(id) == nil, "stop \(stop) cleared its attempt")
        }
        #expect(try await ledger.run(id)?.status == .transforming, "left for the next start, never failed")
    }

    @Test func aHandledFailureIsNotADeath() async throws {
        let id = try await extractedRun()
        for n in 1...2 { try await die(on: id, n) }
        await worker(Recorder(), fail: true).reconcile(reason: "test")
        let record = try #require(try await ledger.run(id))
        #expect(record.error == "row 3 is not JSON")
        #expect(try await chunkAttempts(id) == nil)
    }
}
