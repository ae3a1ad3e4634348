import DummyJSONFixture
import Foundation
import PipelineCore
import PipelineRedis
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
            let process = try ExtractorTest.launch(["--once"], env: env, log: dir.file("extractor.log"))
            #expect(try await ExtractorTest.wait(process, limit: .seconds(60)) == 0)
            let log = try String(contentsOfFile: dir.file("extractor.log"), encoding: .utf8)
            #expect(log.contains("page 3/3"), "logs each page")
            #expect(log.contains("extraction complete"))
            #expect(log.contains("users=208"))
        }
    }

    @Test func onceExitsNonZeroWithOneClearLineWhenRetriesRunOut() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208, faults: FaultSettings(down: true))) { _, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["RETRY_MAX_RETRIES": "1", "LOG_LEVEL": "critical"])
            let process = try ExtractorTest.launch(["--once"], env: env, log: dir.file("extractor.log"))
            #expect(try await ExtractorTest.wait(process, limit: .seconds(60)) != 0)
            let lines = try String(contentsOfFile: dir.file("extractor.log"), encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 1, "one line: \(lines)")
            #expect(lines.first?.contains("extraction of run ") == true)
            #expect(lines.first?.contains("failed: page at skip=0 failed after 2 attempts: ") == true)
            #expect(lines.first?.contains("HTTP 503") == true)
        }
    }

    @Test func aBadSettingStopsStartUpNamingTheVariable() async throws {
        let dir = TemporaryDirectory()
        let env = ExtractorTest.environment(port: 1, dataDir: dir.path, ["PAGE_SIZE": "lots"])
        let process = try ExtractorTest.launch(["--once"], env: env, log: dir.file("extractor.log"))
        #expect(try await ExtractorTest.wait(process, limit: .seconds(30)) != 0)
        let log = try String(contentsOfFile: dir.file("extractor.log"), encoding: .utf8)
        #expect(log.contains(#"invalid PAGE_SIZE="lots": expected an integer in 1...1000"#), "\(log)")
    }

    @Test func runsOnItsScheduleAndStopsGracefullyOnSIGTERM() async throws {
        let dir = TemporaryDirectory()
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: 208)) { _, port in
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["EXTRACT_INTERVAL_SECONDS": "1", "LOG_LEVEL": "info"])
            let ledger = RunLedger(redis: try ExtractorTest.redis())
            let process = try ExtractorTest.launch([], env: env, log: dir.file("extractor.log"))
            defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            // A run at start-up, then one a second later: run ids carry the second they started.
            #expect(try await ExtractorTest.eventually(limit: .seconds(30)) {
                var extracted = 0
                for id in try await ledger.recentRuns() where try await ledger.run(id)?.status == .extracted { extracted += 1 }
                return extracted >= 2
            })
            kill(process.processIdentifier, SIGTERM)
            #expect(try await ExtractorTest.wait(process, limit: .seconds(10)) == 0, "SIGTERM ends the schedule cleanly")
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
        try await FixtureServer.withRunning(try ExtractorTest.fixture(users: count, badFraction: 0.05, faults: FaultSettings(delayMs: 10))) { server, port in
            // A short claim TTL: the killed process's claim must expire before the new one resumes.
            let env = ExtractorTest.environment(port: port, dataDir: dir.path, ["LOG_LEVEL": "info", "CLAIM_TTL_SECONDS": "1.5"])
            let ledger = RunLedger(redis: try ExtractorTest.redis())
            let first = try ExtractorTest.launch(["--once"], env: env, log: dir.file("first.log"))
            defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }

            // Kill it once a few thousand users are durably staged.
            var runID: RunID?
            let midway = try await ExtractorTest.eventually {
                guard let record = try await ledger.unfinishedExtraction() else { return false }
                runID = record.id
                return (record.checkpoint?.skip ?? 0) >= 5000
            }
            #expect(midway)
            kill(first.processIdentifier, SIGKILL)
            _ = try await ExtractorTest.wait(first, limit: .seconds(30))
            let id = try #require(runID)
            let layout = StagingLayout(dataDirectory: dir.path)
            #expect(!FileManager.default.fileExists(atPath: layout.rawFile(id)), "a killed run leaves no complete-looking file")
            let killedAt = try #require(try await ledger.run(id)?.checkpoint)
            #expect(killedAt.skip < count)

            let second = try ExtractorTest.launch(["--once"], env: env, log: dir.file("second.log"))
            defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
            #expect(try await ExtractorTest.wait(second, limit: .seconds(120)) == 0)

            #expect(try await ledger.recentRuns() == [id], "the same run resumed, no new run")
            let record = try #require(try await ledger.run(id))
            #expect(record.status == .extracted)
            #expect(try ExtractorTest.readFile(layout.rawFile(id)) == ExtractorTest.expectedRaw(server.users), "nothing lost, nothing duplicated")
            let log = try String(contentsOfFile: dir.file("second.log"), encoding: .utf8)
            #expect(log.contains("resuming from checkpoint"))
            #expect(log.contains("waiting for the claim to expire"), "the dead process's claim was still live at restart")
            // The resumed process fetched only what the checkpoint did not cover (plus at most the page in flight).
            let pagesFetched = log.split(separator: "\n").filter { $0.contains(" page ") }.count
            #expect(pagesFetched <= (count - killedAt.skip) / 100 + 1)
        }
    }
}
}
