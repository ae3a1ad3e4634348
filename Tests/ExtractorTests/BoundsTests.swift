import DummyJSONFixture
import ExtractorCore
import Foundation
import PipelineCore
import PipelineRedis
import PipelineRuntime
import Testing
import TestSupport

/// Hostile upstream answers (docs/RELIABILITY.md, "Hostile input"): every number and size the
/// upstream sends is checked against a bound before the extractor computes with it, and a
/// violation fails the run with one clear reason, never a trap.
extension ExtractorSuites {
@Suite struct BoundsTests {
    init() async throws {
        try await ExtractorTest.redis().flushdb()
    }

    /// Runs one cycle in-process; returns the failure it must end with, and the ledger.
    func failure(_ env: [String: String]) async throws -> (ExtractionFailed?, RunLedger) {
        let (extraction, ledger) = try ExtractorTest.extraction(env)
        let failure = await #expect(throws: ExtractionFailed.self) { try await extraction.runCycle() }
        return (failure, ledger)
    }

    // MARK: Totals

    @Test(arguments: [
        // The upstream claims more users than a run accepts, by one.
        (reported: 10_000_001 as Int?, limit: nil as Int?, expected: "upstream total 10000001 exceeds MAX_USERS_PER_RUN 10000000"),
        // A real total over a lowered limit.
        (reported: nil, limit: 150, expected: "upstream total 208 exceeds MAX_USERS_PER_RUN 150"),
    ])
    func aTotalAboveMaxUsersPerRunFailsTheRunAtTheFirstPage(reported: Int?, limit: Int?, expected: String) async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208, faults: FaultSettings(reportTotal: reported))) { server, port in
            var env = ExtractorTest.environment(port: port, dataDir: dir.path)
            if let limit { env["MAX_USERS_PER_RUN"] = String(limit) }
            let (failure, ledger) = try await failure(env)
            #expect(failure?.reason == expected)
            #expect(server.controller.stats().requests == 1, "no page after the first")
            let id = try #require(failure?.run)
            let record = try #require(try await ledger.run(id))
            #expect(record.status == .failed)
            #expect(record.error == expected)
            #expect(record.checkpoint == nil, "nothing was staged")
        }
    }

    // MARK: Pages

    @Test func aPageBiggerThanMaxPageBytesFailsTheRunWithoutRetrying() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208)) { server, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["MAX_PAGE_BYTES": "4096"])
            let (failure, _) = try await failure(env)
            let reason = failure?.reason ?? ""
            #expect(reason.hasPrefix("page at skip=0 failed after 1 attempt: response from "), "\(reason)")
            #expect(reason.hasSuffix(" exceeds MAX_PAGE_BYTES (4096 bytes)"), "\(reason)")
            #expect(server.controller.stats().requests == 1, "an oversized page is not retried")
        }
    }

    @Test func theDefaultPageLimitIs32MiBAndTheHTTPClientEnforcesIt() throws {
        let settings = try ExtractorSettings(from: SettingsReader([:]))
        #expect(settings.maxPageBytes == 32 << 20)
        #expect(settings.httpConfiguration.maxResponseSize == 32 << 20)
        #expect(settings.maxUsersPerRun == 10_000_000)
        #expect(settings.maxUserBytes == 1 << 20)
        #expect(try ExtractorSettings(from: SettingsReader(["MAX_PAGE_BYTES": "5000"])).httpConfiguration.maxResponseSize == 5000)
    }

    @Test(arguments: [
        ("MAX_USERS_PER_RUN", "0", "an integer in 1...1000000000000"),
        ("MAX_USERS_PER_RUN", "9223372036854775807", "an integer in 1...1000000000000"),
        ("MAX_PAGE_BYTES", "12", "an integer in 1024...1073741824"),
        ("MAX_USER_BYTES", "lots", "an integer in 64...268435456"),
    ])
    func aBadLimitStopsStartUpNamingTheVariable(name: String, value: String, expected: String) throws {
        let error = #expect(throws: ConfigurationError.self) { try ExtractorSettings(from: SettingsReader([name: value])) }
        #expect(error?.description.contains(name) == true, "\(String(describing: error))")
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
    }

    @Test func aUserBiggerThanMaxUserBytesFailsTheRunBeforeAnythingIsWritten() async throws {
        let dir = TemporaryDirectory()
        let big = #"{"id":2,"bio":""# + String(repeating: "x", count: 2000) + #""}"#
        let server = try ExtractorTest.upstream { _ in #"{"users":[{"id":1},"# + big + #"],"total":2,"skip":0,"limit":2}"# }
        defer { server.stop() }
        let env = ExtractorTest.environment(port: Int(server.port), dataDir: dir.path, ["MAX_USER_BYTES": "1000"])
        let (failure, _) = try await failure(env)
        #expect(failure?.reason == "user 2 of the page at skip=0 is \(big.utf8.count) bytes, over MAX_USER_BYTES 1000")
        let part = StagingLayout(dataDirectory: dir.path).chunkFile(try #require(failure?.run), 0, .raw) + ".part"
        #expect((FileManager.default.contents(atPath: part) ?? Data()).isEmpty, "not even the small user of that page is staged")
    }

    @Test(arguments: [
        // A skip the extractor never asked for (near Int.max): the page is not the one requested.
        (pageSize: 2, body: #"{"users":[{"id":1},{"id":2}],"total":2,"skip":9223372036854775806,"limit":2}"#,
         expected: "upstream answered skip=9223372036854775806 to a request for skip=0"),
        // More users than the limit asked for.
        (pageSize: 2, body: #"{"users":[{"id":1},{"id":2},{"id":3}],"total":3,"skip":0,"limit":3}"#,
         expected: "upstream returned 3 users at skip=0, more than the 2 asked for (PAGE_SIZE)"),
        // More users than the total leaves room for.
        (pageSize: 2, body: #"{"users":[{"id":1},{"id":2}],"total":1,"skip":0,"limit":2}"#,
         expected: "upstream returned 2 users at skip=0, past its total of 1"),
    ])
    func aPageInconsistentWithTheRequestFailsTheRun(pageSize: Int, body: String, expected: String) async throws {
        let dir = TemporaryDirectory()
        let server = try ExtractorTest.upstream { _ in body }
        defer { server.stop() }
        let env = ExtractorTest.environment(port: Int(server.port), dataDir: dir.path, ["PAGE_SIZE": String(pageSize)])
        let (failure, ledger) = try await failure(env)
        #expect(failure?.reason == expected)
        #expect(try await ledger.run(try #require(failure?.run))?.error == expected)
    }

    // MARK: The real binary, only critical lines logged: totals and checkpoints that used to trap

    @Test(arguments: [Int.max, Int.max - 50])
    func anOverflowingTotalMakesOnceExitOneWithOneClearLineTwiceInARow(total: Int) async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208, faults: FaultSettings(reportTotal: total))) { server, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["LOG_LEVEL": "critical"])
            let expected = "upstream total \(total) exceeds MAX_USERS_PER_RUN 10000000"
            for attempt in 1...2 {
                let run = try await ExtractorTest.once(env, log: dir.file("extractor-\(attempt).log"))
                #expect(run.exited, "attempt \(attempt) died by signal \(run.status)")
                #expect(run.status == 1)
                #expect(run.lines.count == 1, "attempt \(attempt): one line: \(run.lines)")
                #expect(run.lines.first?.contains("extraction of run ") == true)
                #expect(run.lines.first?.hasSuffix("failed: \(expected)") == true, "\(run.lines)")
                #expect(run.elapsed < .seconds(30), "attempt \(attempt) took \(run.elapsed)")
            }
            #expect(server.controller.stats().requests == 2, "one page per attempt")
            let ledger = RunLedger(redis: try ExtractorTest.redis())
            let ids = try await ledger.recentRuns()
            #expect(ids.count == 1, "the second start resumed the failed run")
            let id = try #require(ids.first)
            let record = try #require(try await ledger.run(id))
            #expect(record.status == .failed)
            #expect(record.error == expected)
            #expect(record.attempts[.extract] == nil, "a recorded failure is not a death")
        }
    }

    @Test(arguments: [
        (skip: Int.max - 10, total: Int.max, expected: "checkpoint: upstream total 9223372036854775807 exceeds MAX_USERS_PER_RUN 10000000"),
        (skip: Int.max - 10, total: 208, expected: "checkpoint out of bounds: skip=9223372036854775797 offset=0 total=208"),
    ])
    func aCheckpointNearIntMaxFailsTheRunInsteadOfTrapping(skip: Int, total: Int, expected: String) async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208)) { _, port in
            // A run whose checkpoint (from an older build, or a hand-edited ledger) points past any page.
            let ledger = RunLedger(redis: try ExtractorTest.redis())
            let id = RunID()
            _ = try await ledger.startRun(id)
            try await ledger.saveCheckpoint(run: id, .init(skip: skip, offset: 0, total: total))
            let layout = StagingLayout(dataDirectory: dir.path)
            try FileManager.default.createDirectory(atPath: layout.chunkDirectory(id, 0), withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: layout.chunkFile(id, 0, .raw) + ".part", contents: Data()))

            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["LOG_LEVEL": "critical"])
            let run = try await ExtractorTest.once(env, log: dir.file("extractor.log"))
            #expect(run.exited, "died by signal \(run.status)")
            #expect(run.status == 1)
            #expect(run.lines.count == 1, "one line: \(run.lines)")
            #expect(run.lines.first?.hasSuffix("extraction of run \(id) failed: \(expected)") == true, "\(run.lines)")
            #expect(try await ledger.run(id)?.error == expected)
        }
    }
}
}
