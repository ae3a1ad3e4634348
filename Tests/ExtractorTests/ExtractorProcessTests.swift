import DummyJSONFixture
import Foundation
import PipelineCore
import PipelineRedis
import PipelineRuntime
import Testing
import TestSupport

/// The real `Extractor` executable as a user runs it, against the fixture and real Redis (db 5).
extension ExtractorSuites {
@Suite struct ExtractorProcessTests {
    init() async throws {
        try await ExtractorTest.redis().flushdb()
    }

    @Test func onceExitsZeroWhenTheRunIsExtracted() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208)) { _, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["LOG_LEVEL": "info"])
            let run = try await ExtractorTest.once(env, log: dir.file("extractor.log"))
            #expect(run.status == 0)
            #expect(run.log.contains("page 3/3"), "logs each page")
            #expect(run.log.contains("extraction complete"))
            #expect(run.log.contains("users=208"))
        }
    }

    @Test func onceExitsNonZeroWithOneClearLineWhenRetriesRunOut() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208, faults: FaultSettings(down: true))) { _, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["RETRY_MAX_RETRIES": "1", "LOG_LEVEL": "critical"])
            let run = try await ExtractorTest.once(env, log: dir.file("extractor.log"))
            #expect(run.status != 0)
            let lines = run.lines
            #expect(lines.count == 1, "one line: \(lines)")
            #expect(lines.first?.contains("extraction of run ") == true)
            #expect(lines.first?.contains("failed: page at skip=0 failed after 2 attempts: ") == true)
            #expect(lines.first?.contains("HTTP 503") == true)
        }
    }

    @Test func aBadSettingStopsStartUpNamingTheVariable() async throws {
        let dir = TemporaryDirectory()
        let env = ExtractorTest.environment(port: 1, dataDir: dir.path, ["PAGE_SIZE": "lots"])
        let run = try await ExtractorTest.once(env, log: dir.file("extractor.log"))
        #expect(run.status != 0)
        #expect(run.log.contains(#"invalid PAGE_SIZE="lots": expected an integer in 1...1000"#), "\(run.log)")
    }

    /// Distinctive stand-ins for a password and an API key in `DUMMYJSON_URL`.
    static let password = "s3cretPW9x"
    static let apiKey = "K3yValue77q"

    /// Everything the run left where a user could read it: the process's output and the ledger.
    private func assertNoSecrets(in texts: [String], _ comment: String) {
        for text in texts {
            #expect(!text.contains(Self.password), "\(comment): \(text)")
            #expect(!text.contains(Self.apiKey), "\(comment): \(text)")
        }
    }

    @Test func upstreamCredentialsAndQueryValuesNeverReachTheOutputOrTheLedger() async throws {
        let dir = TemporaryDirectory()
        // Every page is malformed: the error quotes the page's URL, which ends in the ledger.
        let faults = FaultSettings(malformedRequests: Array(1...10))
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208, faults: faults)) { _, port in
            let url = "http://etl:\(Self.password)@127.0.0.1:\(port)/users?key=\(Self.apiKey)"
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, [
                "DUMMYJSON_URL": url, "RETRY_MAX_RETRIES": "1", "LOG_LEVEL": "debug",
            ])
            let run = try await ExtractorTest.once(env, log: dir.file("extractor.log"))
            #expect(run.status != 0)
            let log = run.log
            let ledger = RunLedger(redis: try ExtractorTest.redis())
            let id = try #require(try await ledger.recentRuns().first)
            let record = try #require(try await ledger.run(id))
            #expect(record.status == .failed)
            let error = try #require(record.error)
            #expect(error.contains("body is not the expected users envelope"), "\(error)")
            #expect(error.contains("http://***@127.0.0.1:\(port)/users?key=***&limit=***&skip=***"), "\(error)")
            #expect(log.contains("upstream=\"http://***@127.0.0.1:\(port)/users?key=***\""), "\(log)")
            assertNoSecrets(in: [log, error, try await ExtractorTest.redis().hgetall(LedgerKey.run(id)).description], "malformed pages")
        }
    }

    @Test func upstreamSecretsStayHiddenWhenTheUpstreamIsDown() async throws {
        let dir = TemporaryDirectory()
        let port = try freePort()
        let env = ExtractorTest.environment(port: Int(port), dataDir: dir.path, [
            "DUMMYJSON_URL": "http://etl:\(Self.password)@127.0.0.1:\(port)/users?key=\(Self.apiKey)",
            "RETRY_MAX_RETRIES": "1", "LOG_LEVEL": "debug",
        ])
        let run = try await ExtractorTest.once(env, log: dir.file("extractor.log"))
        #expect(run.status != 0)
        let log = run.log
        #expect(log.contains("could not connect to 127.0.0.1:\(port)"), "\(log)")
        let ledger = RunLedger(redis: try ExtractorTest.redis())
        let id = try #require(try await ledger.recentRuns().first)
        assertNoSecrets(in: [log, try await ExtractorTest.redis().hgetall(LedgerKey.run(id)).description], "connection refused")
    }

    @Test func aBadUpstreamURLStopsStartUpWithoutShowingItsSecrets() async throws {
        let dir = TemporaryDirectory()
        let env = ExtractorTest.environment(port: 1, dataDir: dir.path, [
            "DUMMYJSON_URL": "ftp://etl:\(Self.password)@files.example/users?key=\(Self.apiKey)#\(Self.apiKey)",
        ])
        let run = try await ExtractorTest.once(env, log: dir.file("extractor.log"))
        #expect(run.status != 0)
        let log = run.log
        #expect(log.contains(#"invalid DUMMYJSON_URL="ftp://***@files.example/users?key=***#***": expected an http:// or https:// URL"#), "\(log)")
        assertNoSecrets(in: [log], "start-up error")
    }

    @Test func runsOnItsScheduleAndStopsGracefullyOnSIGTERM() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208)) { _, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["EXTRACT_INTERVAL_SECONDS": "1", "LOG_LEVEL": "info"])
            let ledger = RunLedger(redis: try ExtractorTest.redis())
            let process = try ExtractorTest.launch([], env: env, log: dir.file("extractor.log"))
            defer { if process.isRunning { kill(process.pid, SIGKILL) } }
            // A run at start-up, then one a second later: run ids carry the second they started.
            #expect(try await eventually(within: .seconds(30)) {
                var extracted = 0
                for id in try await ledger.recentRuns() where try await ledger.run(id)?.status == .extracted { extracted += 1 }
                return extracted >= 2
            })
            kill(process.pid, SIGTERM)
            #expect(try await ExtractorTest.wait(process, limit: .seconds(30)) == 0, "SIGTERM ends the schedule cleanly")
            // A run caught mid-way is left for the next start to resume, never marked failed.
            for id in try await ledger.recentRuns() {
                let status = try await ledger.run(id)?.status
                #expect(status == .extracted || status == .extracting, "\(id): \(String(describing: status))")
            }
        }
    }

    @Test func aKilledRunResumesFromItsCheckpointAndEndsIdentical() async throws {
        let dir = TemporaryDirectory()
        let count = 20_000
        // Pages slow enough (200 of 30 ms) that the kill lands mid-run however late the test sees
        // the checkpoint; a claim TTL long enough to outlive the restart on a loaded machine.
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: count, badFraction: 0.05, faults: FaultSettings(delayMs: 30))) { server, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["LOG_LEVEL": "info", "CLAIM_TTL_SECONDS": "5", "CHUNK_USERS": "3000"])
            let ledger = RunLedger(redis: try ExtractorTest.redis())
            let first = try ExtractorTest.launch(["--once"], env: env, log: dir.file("first.log"))
            defer { if first.isRunning { kill(first.pid, SIGKILL) } }

            // Kill it once a few thousand users are durably staged.
            var runID: RunID?
            let midway = try await eventually(within: .seconds(60)) {
                guard let record = try await ledger.unfinishedExtraction() else { return false }
                runID = record.id
                return (record.checkpoint?.skip ?? 0) >= 5000
            }
            #expect(midway)
            kill(first.pid, SIGKILL)
            _ = try await ExtractorTest.wait(first, limit: .seconds(30))
            let id = try #require(runID)
            let layout = StagingLayout(dataDirectory: dir.path)
            let killed = try #require(try await ledger.run(id))
            #expect(!FileManager.default.fileExists(atPath: layout.chunkFile(id, killed.chunks.sealed.count, .raw)),
                    "a killed run leaves no complete-looking open chunk")
            let killedAt = try #require(killed.checkpoint)
            #expect(killedAt.skip < count)

            let second = try await ExtractorTest.once(env, log: dir.file("second.log"), limit: .seconds(120))
            #expect(second.status == 0)

            #expect(try await ledger.recentRuns() == [id], "the same run resumed, no new run")
            let record = try #require(try await ledger.run(id))
            #expect(record.status == .extracted)
            #expect(try ExtractorTest.stagedRaw(dir.path, id) == ExtractorTest.expectedRaw(server.users), "nothing lost, nothing duplicated")
            let log = second.log
            #expect(log.contains("resuming from checkpoint"))
            #expect(log.contains("waiting for the claim to expire"), "the dead process's claim was still live at restart")
            // The resumed process fetched only what the checkpoint did not cover (plus at most the page in flight).
            let pagesFetched = log.split(separator: "\n").filter { $0.contains(" page ") }.count
            #expect(pagesFetched <= (count - killedAt.skip) / 100 + 1)
        }
    }
}
}
