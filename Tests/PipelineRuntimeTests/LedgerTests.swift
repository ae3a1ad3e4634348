import Foundation
import PipelineCore
import PipelineRedis
import PipelineRuntime
import Synchronization
import Testing
import TestSupport

/// The run ledger, claims and the reconcile worker against the real test server, in their own
/// database (1) so other suites' runs never show up in a scan.
@Suite(.serialized) struct LedgerTests {
    static let url = try! RedisURL(RedisTestServer.url(database: 1), name: "TEST_REDIS_URL")

    let redis = RedisClient(url: LedgerTests.url, connectTimeout: .seconds(2), commandTimeout: .seconds(5))
    var ledger: RunLedger { RunLedger(redis: redis) }

    init() async throws {
        try await redis.flushdb()
    }

    static func file(_ name: String, rows: Int) -> StagedFile {
        StagedFile(path: "runs/x/\(name)", rows: rows, bytes: rows * 10, sha256: String(repeating: "c", count: 64))
    }

    @Test func runMovesThroughThePhases() async throws {
        let id = RunID()
        _ = try await ledger.startRun(id)
        #expect(try await ledger.run(id)?.status == .extracting)
        #expect(try await redis.zscore(LedgerKey.runs, member: id.rawValue) == id.startedAt.timeIntervalSince1970)
        #expect(try await ledger.unfinishedRuns() == [id])

        try await ledger.saveCheckpoint(run: id, .init(skip: 100, offset: 4096, total: 208))
        #expect(try await ledger.run(id)?.checkpoint == .init(skip: 100, offset: 4096, total: 208))

        let signal = try await ledger.completePhase(.extract, run: id, files: [Self.file("raw.jsonl", rows: 208)], counts: ["extracted": 208])
        #expect(signal.status == .extracted)
        let extracted = try #require(try await ledger.run(id))
        #expect(extracted.status == .extracted)
        #expect(extracted.checkpoint == nil, "completing the extraction clears its checkpoint")
        #expect(extracted.files[.extract] == [Self.file("raw.jsonl", rows: 208)])
        #expect(extracted.counts[.extract] == ["extracted": 208])
        #expect(extracted.phaseFinishedAt[.extract] != nil)
        #expect(try await ledger.unfinishedRuns() == [id])

        try await ledger.beginPhase(.transform, run: id, at: Date(timeIntervalSince1970: 1_795_000_000))
        #expect(try await ledger.run(id)?.status == .transforming)
        #expect(try await ledger.unfinishedRuns() == [id], "a run left transforming by a dead stage is picked up again")
        try await ledger.beginPhase(.transform, run: id, at: Date(timeIntervalSince1970: 1_795_000_100))
        #expect(try await ledger.run(id)?.phaseStartedAt[.transform] == Date(timeIntervalSince1970: 1_795_000_000), "a resumed phase keeps its first start")
        try await ledger.completePhase(.transform, run: id, files: [], counts: ["valid": 200, "invalid": 8])
        #expect(try await ledger.run(id)?.status == .transformed)
        #expect(try await ledger.unfinishedRuns() == [id])
        try await ledger.completePhase(.save, run: id, files: [], counts: ["loaded": 200])
        #expect(try await ledger.run(id)?.status == .completed)
        #expect(try await ledger.unfinishedRuns() == [])
    }

    /// With chunks the phases overlap: the status is the earliest unfinished phase's, whatever
    /// later phases have begun or finished meanwhile.
    @Test func theStatusIsTheEarliestUnfinishedPhase() async throws {
        let id = RunID()
        _ = try await ledger.startRun(id, chunkUsers: 100)
        try await ledger.beginPhase(.transform, run: id)
        try await ledger.beginPhase(.save, run: id)
        #expect(try await ledger.run(id)?.status == .extracting, "transforming and saving chunks while still extracting")
        try await ledger.completePhase(.extract, run: id, files: [], counts: ["extracted": 300])
        #expect(try await ledger.run(id)?.status == .transforming)
        try await ledger.completePhase(.transform, run: id, files: [], counts: [:])
        #expect(try await ledger.run(id)?.status == .saving)
        try await ledger.failPhase(.transform, run: id, error: "late failure")
        try await ledger.completePhase(.save, run: id, files: [], counts: [:])
        #expect(try await ledger.run(id)?.status == .failed, "a failure of another phase stays")
        try await ledger.beginPhase(.transform, run: id)
        #expect(try await ledger.run(id)?.status == .completed, "the failing phase beginning again clears it")
    }

    @Test func failedRunsStayFailedDownstreamAndResumeInTheExtractor() async throws {
        let old = RunID(startingAt: Date(timeIntervalSinceNow: -60))
        let new = RunID()
        _ = try await ledger.startRun(old)
        _ = try await ledger.startRun(new)
        try await ledger.completePhase(.extract, run: old, files: [], counts: [:])
        let failure = try await ledger.failPhase(.transform, run: old, error: "raw.jsonl checksum mismatch")
        #expect(failure.error == "raw.jsonl checksum mismatch")
        let record = try #require(try await ledger.run(old))
        #expect(record.status == .failed)
        #expect(record.failedPhase == .transform)
        #expect(record.error == "raw.jsonl checksum mismatch")
        #expect(try await ledger.unfinishedRuns() == [new], "a failed run is left alone downstream")

        try await ledger.saveCheckpoint(run: new, .init(skip: 200, offset: 9000, total: 1000))
        try await ledger.failPhase(.extract, run: new, error: "upstream down")
        let unfinished = try #require(try await ledger.unfinishedExtraction())
        #expect(unfinished.id == new)
        #expect(unfinished.checkpoint == .init(skip: 200, offset: 9000, total: 1000), "a failed extraction keeps its checkpoint")
        try await ledger.beginPhase(.extract, run: new)
        let resumed = try #require(try await ledger.run(new))
        #expect(resumed.status == .extracting)
        #expect(resumed.error == nil && resumed.failedPhase == nil, "resuming clears the earlier failure")
    }

    @Test func unfinishedRunsComeOldestFirst() async throws {
        let ids = (0..<3).map { RunID(startingAt: Date(timeIntervalSinceNow: Double($0 - 10))) }
        for id in ids.reversed() {
            _ = try await ledger.startRun(id)
            try await ledger.completePhase(.extract, run: id, files: [], counts: [:])
        }
        #expect(try await ledger.unfinishedRuns() == ids)
    }

    @Test func exactlyOneOfTwoClaimantsWorks() async throws {
        let id = RunID()
        let first = RunClaims(redis: redis, owner: "a", ttl: .seconds(3))
        let second = RunClaims(redis: redis, owner: "b", ttl: .seconds(3))
        let runs = Atomic(0)
        async let one = first.withClaim(.transform, run: id) { runs.add(1, ordering: .relaxed); try await Task.sleep(for: .seconds(8)); return "a" }
        // The first claim outlives its 3 s TTL only because it is renewed.
        try await Task.sleep(for: .milliseconds(4500))
        let two = try await second.withClaim(.transform, run: id) { runs.add(1, ordering: .relaxed); return "b" }
        #expect(two == nil, "the claim is held, and renewed past its TTL, while the first works")
        #expect(try await one == "a")
        let bodies = runs.load(ordering: .relaxed)
        #expect(bodies == 1)
        #expect(try await redis.get(LedgerKey.lock(.transform, id)) == nil, "released when done")
        #expect(try await second.withClaim(.transform, run: id) { "b" } == "b")
    }

    @Test func aStartUpTakesOverOnlyTheClaimsOfAnEarlierLifeOfItsOwnInstance() async throws {
        let id = RunID()
        let key = LedgerKey.lock(.transform, id)
        // A claim left by a dead process of instance "t1" (and one of "t10", which shares its first letters).
        #expect(try await redis.claim(key, owner: "t1:100:dead", ttl: .seconds(60)))
        let restarted = RunClaims(redis: redis, owner: "t1:200:live", instance: "t1", ttl: .seconds(3))
        let stranger = RunClaims(redis: redis, owner: "t2:300:live", instance: "t2", ttl: .seconds(3))
        let unnamed = RunClaims(redis: redis, owner: "host:400:live", ttl: .seconds(3))

        #expect(try await restarted.withClaim(.transform, run: id) { "worked" } == nil, "not outside start-up")
        #expect(try await stranger.withClaim(.transform, run: id, takingOver: true) { "worked" } == nil, "not another instance's")
        #expect(try await unnamed.withClaim(.transform, run: id, takingOver: true) { "worked" } == nil, "not without an identity")
        #expect(try await restarted.withClaim(.transform, run: id, takingOver: true) { "worked" } == "worked")
        #expect(try await redis.get(key) == nil, "released when done")

        let other = RunID()
        let otherKey = LedgerKey.lock(.transform, other)
        #expect(try await redis.claim(otherKey, owner: "t10:100:dead", ttl: .seconds(60)))
        #expect(try await restarted.withClaim(.transform, run: other, takingOver: true) { "worked" } == nil, "t10 is not t1")

        // Its own live claim is never taken twice.
        let third = RunID()
        let thirdKey = LedgerKey.lock(.transform, third)
        #expect(try await redis.claim(thirdKey, owner: "t1:200:live", ttl: .seconds(60), takingOverFrom: "t1:"))
        #expect(try await restarted.withClaim(.transform, run: third, takingOver: true) { "twice" } == nil)
        #expect(try await redis.getString(thirdKey) == "t1:200:live")
    }

    @Test func losingTheClaimCancelsTheWork() async throws {
        let id = RunID()
        let key = LedgerKey.lock(.save, id)
        let claims = RunClaims(redis: redis, owner: "a", ttl: .seconds(3))
        let finished = Atomic(false)
        let task = Task {
            try await claims.withClaim(.save, run: id) {
                try await Task.sleep(for: .seconds(60))
                finished.store(true, ordering: .relaxed)
            }
        }
        // Taken over only once claimed: an intruder first would make the claim fail instead.
        #expect(try await eventually(within: .seconds(30)) { try await redis.getString(key) == "a" })
        _ = try await redis.set(key, "intruder")
        let error = await #expect(throws: ClaimLost.self) { try await task.value }
        #expect(error?.description == "lost the claim etl:lock:save:\(id): it expired or another owner holds it")
        let didFinish = finished.load(ordering: .relaxed)
        #expect(!didFinish)
        #expect(try await redis.getString(key) == "intruder", "someone else's claim is left alone")
    }
}
