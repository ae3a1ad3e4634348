import DummyJSONFixture
import ExtractorCore
import Foundation
import PipelineCore
import PipelineRedis
import Testing
import TestSupport

/// The extractor against the fixture upstream and a real Redis (database 5).
extension ExtractorSuites {
@Suite struct ExtractionTests {
    init() async throws {
        try await ExtractorTest.redis().flushdb()
    }

    @Test(arguments: [208, 10_000])
    func everyUserArrivesOnceInOrderAsServed(count: Int) async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: count, badFraction: 0.05)) { server, port in
            let signals = try await SignalListener(try RedisURL(ExtractorTest.redisURL), [.phase1Complete])

            let (extraction, ledger) = try ExtractorTest.extraction(ExtractorTest.environment(port: port, dataDir: dir.path))
            guard case .extracted(let id, let staged) = try await extraction.runCycle() else {
                Issue.record("the cycle did not extract")
                return
            }
            // Up to CHUNK_USERS (10,000 by default), one chunk.
            let path = StagingLayout(dataDirectory: dir.path).chunkFile(id, 0, .raw)
            #expect(try ExtractorTest.readFile(path) == ExtractorTest.expectedRaw(server.users), "byte-identical to what the fixture served")
            #expect(staged.count == 1)
            #expect(staged.first?.rows == count)
            #expect(staged.first?.sha256 == (try await sha256sum(path)))
            #expect(!FileManager.default.fileExists(atPath: path + ".part"))
            #expect(server.controller.stats().requests == (count + 99) / 100)
            // raw.jsonl holds every secret: owner-only, in owner-only folders.
            let layout = StagingLayout(dataDirectory: dir.path)
            #expect(octal(try permissionBits(path)) == "600")
            #expect(octal(try permissionBits(layout.chunkDirectory(id, 0))) == "700")
            #expect(octal(try permissionBits(layout.runDirectory(id))) == "700")
            #expect(octal(try permissionBits(layout.runsDirectory)) == "700")

            let record = try #require(try await ledger.run(id))
            #expect(record.status == .extracted)
            #expect(record.checkpoint == nil)
            #expect(record.files[.extract] == staged)
            #expect(record.counts[.extract] == ["extracted": count])
            #expect(record.chunks.total == 1)
            #expect(record.chunks.sealed[0]?.firstLine == 1)
            #expect(record.chunks.sealed[0]?.sha256 == staged.first?.sha256)

            let signal = try #require(try await signals.next(for: id), "no phase-1 signal")
            #expect(signal.phase == .extract)
            #expect(signal.files == record.files[.extract])
            #expect(signal.counts == ["extracted": count])
        }
    }

    /// Chunks are sealed and announced while the run is still being extracted, each a whole
    /// number of pages, numbered by run-wide lines, and together exactly what was served.
    @Test func chunksAreSealedAndAnnouncedAsTheyFill() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 2_050, faults: FaultSettings(delayMs: 20))) { server, port in
            let signals = try await SignalListener(try RedisURL(ExtractorTest.redisURL), [.chunkSealed, .phase1Complete])

            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["CHUNK_USERS": "500"])
            let (extraction, ledger) = try ExtractorTest.extraction(env)
            guard case .extracted(let id, let staged) = try await extraction.runCycle() else { Issue.record("not extracted"); return }
            #expect(staged.map(\.rows) == [500, 500, 500, 500, 50])
            #expect(try ExtractorTest.stagedRaw(dir.path, id) == ExtractorTest.expectedRaw(server.users))
            let record = try #require(try await ledger.run(id))
            #expect(record.chunks.chunkUsers == 500)
            #expect(record.chunks.total == 5)
            #expect((0..<5).map { record.chunks.sealed[$0]?.firstLine } == [1, 501, 1001, 1501, 2001])

            // Five chunk signals, in order, each before the run-level signal.
            var order: [String] = []
            while order.last != Channel.phase1Complete.rawValue, order.count < 10 {
                guard case .message(let channel, _) = try await signals.events.next() else { continue }
                order.append(channel)
            }
            #expect(order == Array(repeating: Channel.chunkSealed.rawValue, count: 5) + [Channel.phase1Complete.rawValue])
        }
    }

    /// A later line with an id an earlier line had, in the same chunk or another, is recorded on
    /// its chunk as a repeat with its run-wide line number; ids that are not positive integers
    /// never are.
    @Test func repeatedIDsAreRecordedOnTheirChunks() async throws {
        let dir = TemporaryDirectory()
        let users = [
            #"{"id":1}"#, #"{"id":2}"#, #"{"id":1}"#, #"{"id":"3"}"#,      // chunk 0: line 3 repeats 1
            #"{"id":2,"x":{"id":9}}"#, #"{"id":-1}"#, #"{"\u0069d":4}"#, #"{"id":3}"#,  // chunk 1: line 5 repeats 2
            #"{"id":4,"id":5}"#, #"[1]"#, #"{"id":3}"#, #"{"id":5}"#,      // chunk 2: lines 11 (3) and 12 (5, the last "id" of line 9)
        ]
        let server = try ExtractorTest.upstream { target in
            let skip = Int(target.split(separator: "skip=").last ?? "0") ?? 0
            let page = users[skip..<min(skip + 2, users.count)].joined(separator: ",")
            return #"{"users":["# + page + #"],"total":\#(users.count),"skip":\#(skip),"limit":2}"#
        }
        defer { server.stop() }
        let env = ExtractorTest.environment(port: Int(server.port), dataDir: dir.path, ["PAGE_SIZE": "2", "CHUNK_USERS": "4"])
        let (extraction, ledger) = try ExtractorTest.extraction(env)
        guard case .extracted(let id, _) = try await extraction.runCycle() else { Issue.record("not extracted"); return }
        let chunks = try #require(try await ledger.run(id)).chunks
        #expect(chunks.sealed[0]?.repeats == [RepeatedID(line: 3, id: 1)])
        #expect(chunks.sealed[1]?.repeats == [RepeatedID(line: 5, id: 2)])
        #expect(chunks.sealed[2]?.repeats == [RepeatedID(line: 11, id: 3), RepeatedID(line: 12, id: 5)])
    }

    @Test func chunkUsersMustBeAWholeNumberOfPages() throws {
        let env = ExtractorTest.environment(port: 1, dataDir: "/tmp", ["PAGE_SIZE": "100", "CHUNK_USERS": "250"])
        #expect(throws: ConfigurationError(variable: "CHUNK_USERS", value: "250", expected: "a whole number of pages: a multiple of PAGE_SIZE (100)")) {
            try ExtractorSettings(from: SettingsReader(env))
        }
    }

    @Test func survives503EveryThirdRequest() async throws {
        let dir = TemporaryDirectory()
        let sleeps = ExtractorTest.Sleeps()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 1000, faults: FaultSettings(failEvery: 3))) { server, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path)
            let (extraction, _) = try ExtractorTest.extraction(env, sleeps: sleeps)
            guard case .extracted(let id, let staged) = try await extraction.runCycle() else { Issue.record("not extracted"); return }
            #expect(staged.rows == 1000)
            #expect(try ExtractorTest.stagedRaw(dir.path, id) == ExtractorTest.expectedRaw(server.users))
            #expect(server.controller.stats().byStatus["503"] ?? 0 >= 4)
        }
        // Every 503 costs one retry, each the first of its page: the backoff's first step, with jitter.
        let policy = try RetryPolicy(from: SettingsReader(ExtractorTest.environment(port: 1, dataDir: dir.path)))
        #expect(!sleeps.recorded.isEmpty)
        for wait in sleeps.recorded {
            #expect(policy.delayRange(forRetry: 1).contains(wait), "wait \(wait) follows the backoff schedule")
        }
    }

    @Test func honoursRetryAfterInA429Burst() async throws {
        let dir = TemporaryDirectory()
        let sleeps = ExtractorTest.Sleeps()
        let faults = FaultSettings(rateLimit: 4, rateWindowSeconds: 1, retryAfterSeconds: 1)
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 1000, faults: faults)) { server, port in
            let (extraction, _) = try ExtractorTest.extraction(ExtractorTest.environment(port: port, dataDir: dir.path), sleeps: sleeps)
            guard case .extracted(let id, _) = try await extraction.runCycle() else { Issue.record("not extracted"); return }
            #expect(try ExtractorTest.stagedRaw(dir.path, id) == ExtractorTest.expectedRaw(server.users))
            #expect(server.controller.stats().byStatus["429"] ?? 0 >= 1)
        }
        #expect(!sleeps.recorded.isEmpty)
        #expect(sleeps.recorded.allSatisfy { $0 == .seconds(1) }, "every wait is the server's Retry-After: \(sleeps.recorded)")
    }

    @Test func retryAfterIsCappedByTheMaximumDelay() async throws {
        let dir = TemporaryDirectory()
        let sleeps = ExtractorTest.Sleeps()
        let faults = FaultSettings(rateLimit: 2, rateWindowSeconds: 0.5, retryAfterSeconds: 30)
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 300, faults: faults)) { _, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["RETRY_MAX_DELAY_SECONDS": "0.6"])
            let (extraction, _) = try ExtractorTest.extraction(env, sleeps: sleeps)
            _ = try await extraction.runCycle()
        }
        #expect(!sleeps.recorded.isEmpty)
        #expect(sleeps.recorded.allSatisfy { $0 == .milliseconds(600) }, "Retry-After 30 s capped at 0.6 s: \(sleeps.recorded)")
    }

    @Test func givesUpWhenRetriesRunOutAndSaysSo() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208, faults: FaultSettings(down: true))) { server, port in
            let signals = try await SignalListener(try RedisURL(ExtractorTest.redisURL), [.runFailed])

            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["RETRY_MAX_RETRIES": "2"])
            let (extraction, ledger) = try ExtractorTest.extraction(env)
            let failure = await #expect(throws: ExtractionFailed.self) { try await extraction.runCycle() }
            #expect(failure?.reason.hasPrefix("page at skip=0 failed after 3 attempts: ") == true)
            #expect(failure?.reason.contains("HTTP 503") == true, "\(failure?.reason ?? "")")
            #expect(server.controller.stats().requests == 3)

            let id = try #require(failure?.run)
            let record = try #require(try await ledger.run(id))
            #expect(record.status == .failed)
            #expect(record.failedPhase == .extract)
            #expect(record.error == failure?.reason)
            #expect(!FileManager.default.fileExists(atPath: StagingLayout(dataDirectory: dir.path).chunkFile(id, 0, .raw)), "no complete-looking raw.jsonl")

            let signal = try #require(try await signals.next(for: id), "no run_failed signal")
            #expect(signal.phase == .extract)
            #expect(signal.status == .failed)

            // The next cycle resumes the same run, now that the upstream is back.
            try server.controller.setFaults(.none)
            guard case .extracted(let resumed, let staged) = try await extraction.runCycle() else { Issue.record("not extracted"); return }
            #expect(resumed == id)
            #expect(staged.rows == 208)
            #expect(try await ledger.run(id)?.status == .extracted)
        }
    }

    @Test func transientBodyFaultsAreRetriedWithoutPartialPages() async throws {
        let dir = TemporaryDirectory()
        let faults = FaultSettings(truncateRequests: [2], malformedRequests: [4])
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 1000, faults: faults)) { server, port in
            let (extraction, _) = try ExtractorTest.extraction(ExtractorTest.environment(port: port, dataDir: dir.path))
            guard case .extracted(let id, let staged) = try await extraction.runCycle() else { Issue.record("not extracted"); return }
            #expect(staged.rows == 1000)
            #expect(try ExtractorTest.stagedRaw(dir.path, id) == ExtractorTest.expectedRaw(server.users))
            #expect(server.controller.stats().requests == 12, "10 pages plus one retry for each fault")
        }
    }

    @Test func aPersistentlyMalformedPageFailsTheRunSayingSo() async throws {
        let dir = TemporaryDirectory()
        let faults = FaultSettings(malformedRequests: [2, 3, 4])
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 500, faults: faults)) { _, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["RETRY_MAX_RETRIES": "2"])
            let (extraction, ledger) = try ExtractorTest.extraction(env)
            let failure = await #expect(throws: ExtractionFailed.self) { try await extraction.runCycle() }
            #expect(failure?.reason.hasPrefix("page at skip=100 failed after 3 attempts: ") == true, "\(failure?.reason ?? "")")
            #expect(failure?.reason.contains("body is not the expected users envelope") == true)
            let id = try #require(failure?.run)
            let part = try ExtractorTest.readFile(StagingLayout(dataDirectory: dir.path).chunkFile(id, 0, .raw) + ".part")
            #expect(part.filter { $0 == 0x0A }.count == 100, "the first page only, never part of the bad one")
            #expect(try await ledger.run(id)?.checkpoint == RunRecord.Checkpoint(skip: 100, offset: part.count, total: 500))
        }
    }

    @Test func aChangingTotalFailsTheRun() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 500, faults: FaultSettings(totalChangeAfter: 2))) { _, port in
            let (extraction, _) = try ExtractorTest.extraction(ExtractorTest.environment(port: port, dataDir: dir.path))
            let failure = await #expect(throws: ExtractionFailed.self) { try await extraction.runCycle() }
            #expect(failure?.reason.hasPrefix("upstream total changed from 500 to ") == true, "\(failure?.reason ?? "")")
        }
    }

    @Test func anEmptyPageBeforeTheTotalFailsTheRun() async throws {
        let dir = TemporaryDirectory()
        let server = try ExtractorTest.upstream { target in
            target.contains("skip=0")
                ? #"{"users":[{"id":1},{"id":2}],"total":5,"skip":0,"limit":2}"#
                : #"{"users":[],"total":5,"skip":2,"limit":0}"#
        }
        defer { server.stop() }
        let (extraction, _) = try ExtractorTest.extraction(ExtractorTest.environment(port: Int(server.port), dataDir: dir.path, ["PAGE_SIZE": "2"]))
        let failure = await #expect(throws: ExtractionFailed.self) { try await extraction.runCycle() }
        #expect(failure?.reason == "upstream returned an empty page at skip=2 before total=5")
        let part = try String(contentsOfFile: StagingLayout(dataDirectory: dir.path).chunkFile(try #require(failure?.run), 0, .raw) + ".part", encoding: .utf8)
        #expect(part == "{\"id\":1}\n{\"id\":2}\n", "only whole pages are ever written")
    }
}
}
