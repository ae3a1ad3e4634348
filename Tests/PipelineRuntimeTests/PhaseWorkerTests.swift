import Foundation
import Logging
import PipelineCore
import PipelineRedis
import PipelineRuntime
import Synchronization
import Testing
import TestSupport

/// The reconcile worker every downstream stage runs, against the real test server (database 2).
@Suite(.serialized) struct PhaseWorkerTests {
    static let url = try! RedisURL(RedisTestServer.url(database: 2), name: "TEST_REDIS_URL")

    let redis = RedisClient(url: PhaseWorkerTests.url, connectTimeout: .seconds(2), commandTimeout: .seconds(5))
    var ledger: RunLedger { RunLedger(redis: redis) }

    init() async throws {
        try await redis.flushdb()
    }

    /// Counts calls per run and returns a fixed output for each chunk.
    final class Recorder: Sendable {
        let calls = Mutex<[RunID: Int]>([:])
        func work(_ run: RunRecord, _ chunk: SealedChunk) async throws -> TransformedChunk {
            calls.withLock { $0[run.id, default: 0] += 1 }
            try await Task.sleep(for: .milliseconds(50))
            return TransformedChunk(files: [StagedFile(path: "chunks/\(chunk.index)/users.jsonl", rows: chunk.rows, bytes: 2, sha256: "ab")],
                                    counts: ["valid": chunk.rows])
        }
    }

    func worker(_ recorder: Recorder, interval: Duration = .seconds(60), instance: String? = nil, fail: Bool = false) -> PhaseWorker {
        PhaseWorker(phase: .transform, redis: redis, redisURL: Self.url, claims: RunClaims(redis: redis, instance: instance, ttl: .seconds(2)),
                    reconcileInterval: interval, logger: Logger(label: "test"), work: .eachChunk { run, chunk, _ in
            let output = try await recorder.work(run, chunk)
            if fail { throw StageFailure(message: "row 3 is not JSON") }
            return output
        })
    }

    struct StageFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// A run whose extractor sealed `chunks` chunks of one row each and completed.
    func extractedRun(secondsAgo: Double = 0, chunks: Int = 1) async throws -> RunID {
        let id = RunID(startingAt: Date(timeIntervalSinceNow: -secondsAgo))
        _ = try await ledger.startRun(id, chunkUsers: 1)
        for index in 0..<chunks {
            let chunk = SealedChunk(index: index, firstLine: index + 1, rows: 1, bytes: 2, sha256: "cd",
                                    sealedAt: Timestamp.format(Date()), repeats: [])
            try await ledger.sealChunk(chunk, run: id, isLast: index == chunks - 1, checkpoint: nil)
        }
        try await ledger.completePhase(.extract, run: id, files: [], counts: ["extracted": chunks])
        return id
    }

    /// The attempt count of one chunk of the transform (``CrashLoop``).
    func chunkAttempts(_ id: RunID, chunk: Int = 0) async throws -> Int? {
        try await redis.hgetall(LedgerKey.run(id))[RunChunks.Field.attempts(chunk, .transform)].flatMap(Int.init)
    }

    /// Polls until every run reaches `status` (at most 30 s, for a loaded machine).
    func waitFor(_ ids: [RunID], _ status: RunStatus) async throws -> Bool {
        try await eventually(within: .seconds(30)) {
            for id in ids where try await ledger.run(id)?.status != status { return false }
            return true
        }
    }

    @Test func picksUpARunWhoseSignalItMissed() async throws {
        let id = try await extractedRun()
        let recorder = Recorder()
        let signals = try await SignalListener(Self.url, [.phase2Complete])

        let task = Task { try await worker(recorder).run() }
        defer { task.cancel() }
        #expect(try await waitFor([id], .transformed))
        #expect(recorder.calls.withLock { $0 } == [id: 1])
        let signal = try #require(try await signals.next(for: id), "no phase-2 signal")
        #expect(signal.phase == .transform)
        #expect(signal.counts == ["valid": 1])
        #expect(try await ledger.run(id)?.counts[.transform] == ["valid": 1])
    }

    @Test func aWorkerRestartedWithItsIdentityTakesOverTheClaimItsEarlierLifeLeft() async throws {
        let id = try await extractedRun()
        // A transformer of instance "t1" died holding the run's chunk: its claim would live 10 minutes.
        #expect(try await redis.claim(LedgerKey.lock(.transform, id, chunk: 0), owner: "t1:100:dead", ttl: .seconds(600)))
        let recorder = Recorder()
        let stranger = Task { try await worker(recorder, interval: .milliseconds(100), instance: "t2").run() }
        try await Task.sleep(for: .seconds(1))
        stranger.cancel()
        #expect(recorder.calls.withLock { $0 }.isEmpty, "another instance waits for the claim to expire")

        let restarted = Task { try await worker(recorder, interval: .milliseconds(100), instance: "t1").run() }
        defer { restarted.cancel() }
        #expect(try await waitFor([id], .transformed))
        #expect(recorder.calls.withLock { $0 } == [id: 1])
    }

    @Test func wakesOnTheSignalWithoutWaitingForTheInterval() async throws {
        let recorder = Recorder()
        let task = Task { try await worker(recorder, interval: .seconds(3600)).run() }
        defer { task.cancel() }
        try await Task.sleep(for: .milliseconds(500))
        let id = try await extractedRun()
        _ = try await redis.publish(Channel.phase1Complete.rawValue, PhaseSignal(runID: id, phase: .extract, status: .extracted, at: Date()).json)
        #expect(try await waitFor([id], .transformed))
    }

    @Test func twoReplicasProcessEveryChunkExactlyOnce() async throws {
        var ids: [RunID] = []
        for n in 0..<6 { ids.append(try await extractedRun(secondsAgo: Double(10 - n), chunks: 3)) }
        let recorder = Recorder()
        let a = Task { try await worker(recorder, interval: .milliseconds(100)).run() }
        let b = Task { try await worker(recorder, interval: .milliseconds(100)).run() }
        defer { a.cancel(); b.cancel() }
        #expect(try await waitFor(ids, .transformed))
        try await Task.sleep(for: .milliseconds(300))
        #expect(recorder.calls.withLock { $0 } == Dictionary(uniqueKeysWithValues: ids.map { ($0, 3) }))
        for id in ids { #expect(try await ledger.run(id)?.counts[.transform] == ["valid": 3], "the chunks' counts, summed") }
    }

    @Test func aFailedRunIsRecordedAndAnnounced() async throws {
        let id = try await extractedRun()
        let signals = try await SignalListener(Self.url, [.runFailed])
        let task = Task { try await worker(Recorder(), fail: true).run() }
        defer { task.cancel() }
        #expect(try await waitFor([id], .failed))
        let record = try #require(try await ledger.run(id))
        #expect(record.failedPhase == .transform)
        #expect(record.error == "row 3 is not JSON")
        let signal = try #require(try await signals.next(for: id), "no run_failed signal")
        #expect(signal.error == "row 3 is not JSON")
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await ledger.run(id)?.status == .failed, "a failed run is not retried downstream")
    }
}
