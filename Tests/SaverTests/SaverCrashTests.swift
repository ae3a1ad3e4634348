import Foundation
import PipelineCore
import PipelineRedis
import SaverCore
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

extension SaverServerTests {
    @Suite("Saver: crash recovery") struct CrashRecovery {
        static let binary = repositoryRoot + "/.build/debug/Saver"

        @Test("SIGKILL between the users and the DLQ transactions, restart: the run completes and the tables equal an uninterrupted run's")
        func killedBetweenUsersAndDLQ() async throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build it first: swift build --build-tests")
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 400)

            let expected = try await Self.savedOnceThenHandedBack(h, run)

            // First process: pauses after committing the users transaction; killed there.
            let first = try await Self.pausedSaver(h, after: .users)
            defer { first.kill(SIGKILL) }
            let db = try DatabaseSnapshot(path: h.databasePath)
            #expect(try db.count("raw_users", run: run.id) == run.total)
            #expect(try db.count("users") == run.valid)
            #expect(try db.count("dlq_records") == 0, "killed before the DLQ transaction")
            #expect(try db.run(run.id)?["status"] as String? != "completed")
            first.kill(SIGKILL)
            #expect(await first.waitForExit(within: .seconds(10)))
            #expect(first.terminationReason == .uncaughtSignal)

            // The killed process's claim (CLAIM_TTL_SECONDS=2) still holds the run; the restarted
            // saver takes it over once the claim expires.
            #expect(try await h.redis.exists(LedgerKey.lock(.save, run.id)))
            let second = try SaverProcess(Self.binary, environment: h.processEnvironment(), log: h.directory.file("saver-2.log"))
            defer { second.kill(SIGKILL) }
            let record = try await h.waitForLedger(run.id, .completed, limit: .seconds(60))
            #expect(record?.status == .completed, "\(record?.error ?? "-"); output:\n\(second.output)")
            second.kill(SIGTERM)
            #expect(await second.waitForExit(within: .seconds(15)), "SIGTERM stops the saver")
            #expect(second.terminationStatus == 0)

            #expect(try DatabaseSnapshot(path: h.databasePath).contents() == expected)
            let names = Saver.remoteNames(run.id)
            #expect(filesOnDisk(h.remoteOnDisk) == [names.dlq, names.manifest, names.raw, names.users].sorted())
            #expect(try await sha256sum(h.remoteOnDisk + "/" + names.users) == sha256sum(run.usersFile.path))
            #expect(second.output.contains("run saved"))
        }

        @Test("SIGKILL between two chunks' transactions, restart: the save resumes at chunk 1 and ends as an uninterrupted run")
        func killedBetweenChunks() async throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build it first: swift build --build-tests")
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 300, chunkUsers: 100)
            let expected = try await Self.savedOnceThenHandedBack(h, run)

            // First process: pauses once chunk 0 is recorded saved, before chunk 1's transactions.
            let first = try await Self.pausedSaver(h, after: .chunk)
            defer { first.kill(SIGKILL) }
            let db = try DatabaseSnapshot(path: h.databasePath)
            #expect(try db.count("raw_users", run: run.id) == 100)
            #expect(try await h.ledger.run(run.id)?.chunks.saved.keys.sorted() == [0])
            first.kill(SIGKILL)
            #expect(await first.waitForExit(within: .seconds(10)))

            let second = try SaverProcess(Self.binary, environment: h.processEnvironment(), log: h.directory.file("saver-2.log"))
            defer { second.kill(SIGKILL) }
            let record = try await h.waitForLedger(run.id, .completed, limit: .seconds(60))
            #expect(record?.status == .completed, "\(record?.error ?? "-"); output:\n\(second.output)")
            second.kill(SIGTERM)
            #expect(await second.waitForExit(within: .seconds(15)))
            #expect(second.output.contains("resuming the save after the chunks already saved"), "\(second.output)")
            #expect(try DatabaseSnapshot(path: h.databasePath).contents() == expected)
            try await h.expectRemoteFiles(run)
        }

        /// Saves `run` without interruption into another database (the reference, whose tables
        /// it returns), then hands the run back to the saver from scratch and empties the server,
        /// so the processes of a test do it all again.
        static func savedOnceThenHandedBack(_ h: SaverHarness, _ run: StagedRunFixture) async throws -> [String: [String]] {
            let referencePath = h.directory.file("reference/data.db")
            let reference = try await h.saver(settings: h.settings(databasePath: referencePath))
            let saved = try await h.running(reference) { try await h.waitForLedger(run.id, .completed) }
            try #require(saved?.status == .completed, "\(saved?.error ?? "-")")
            try await h.handBack(run, forgetChunks: true)
            for name in filesOnDisk(h.remoteOnDisk) { try FileManager.default.removeItem(atPath: h.remoteOnDisk + "/" + name) }
            return try DatabaseSnapshot(path: referencePath).contents()
        }

        /// A saver process held by the test hook after `step`, once it logged the pause.
        static func pausedSaver(_ h: SaverHarness, after step: SaveStep) async throws -> SaverProcess {
            let process = try SaverProcess(Self.binary, environment: h.processEnvironment(["SAVER_TEST_PAUSE_AFTER": step.rawValue]),
                                           log: h.directory.file("saver-1.log"))
            let paused = try await h.eventually(.seconds(60)) { process.output.contains("test hook: pausing after \(step.rawValue)") }
            if !paused { process.kill(SIGKILL) }
            try #require(paused, "the saver never reached the pause; its output:\n\(process.output)")
            return process
        }

        @Test("SIGTERM stops an idle saver cleanly, with exit status 0, every time")
        func sigtermExitsCleanly() async throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build it first: swift build --build-tests")
            let h = try await SaverHarness()
            for attempt in 1...5 {
                let process = try SaverProcess(Self.binary, environment: h.processEnvironment(), log: h.directory.file("saver-term-\(attempt).log"))
                defer { process.kill(SIGKILL) }
                let ready = try await h.eventually(.seconds(20)) { process.output.contains("recorded runs") || process.output.contains("waiting for runs") }
                try #require(ready, "\(process.output)")
                try await Task.sleep(for: .milliseconds(200))
                process.kill(SIGTERM)
                #expect(await process.waitForExit(within: .seconds(15)))
                #expect(process.terminationStatus == 0, "attempt \(attempt):\n\(process.output)")
                #expect(process.output.contains("stopped"))
            }
        }

        @Test("a bad setting stops the saver at start-up with a message naming the variable")
        func badSettingStopsStartUp() async throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build it first: swift build --build-tests")
            let h = try await SaverHarness()
            let process = try SaverProcess(Self.binary, environment: h.processEnvironment(["STAGING_KEEP_RUNS": "many"]),
                                           log: h.directory.file("saver-bad.log"))
            defer { process.kill(SIGKILL) }
            #expect(await process.waitForExit(within: .seconds(15)))
            #expect(process.terminationStatus != 0)
            #expect(process.output.contains("STAGING_KEEP_RUNS"), "\(process.output)")
        }
    }
}

extension SaverHarness {
    /// The environment of a `Saver` process for this harness, nothing inherited but PATH.
    func processEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "REDIS_URL": Self.redisURLText,
            "DATA_DIR": dataDirectory,
            "DB_PATH": databasePath,
            "STAGING_KEEP_RUNS": "5",
            "SFTP_HOST": server.host,
            "SFTP_PORT": String(server.port),
            "SFTP_USER": server.user,
            "SFTP_KEY_PATH": server.privateKeyPath,
            "SFTP_KNOWN_HOSTS": knownHostsPath,
            "SFTP_REMOTE_DIR": remoteDirectory,
            "RETRY_MAX_RETRIES": "2",
            "RETRY_BASE_DELAY_SECONDS": "0.2",
            "RETRY_MAX_DELAY_SECONDS": "1",
            "RECONCILE_INTERVAL_SECONDS": "0.5",
            "CLAIM_TTL_SECONDS": "2",
            "LOG_LEVEL": "debug",
        ]
        environment.merge(extra) { $1 }
        return environment
    }
}

/// A `Saver` child process whose output goes to a file. `Process` is not `Sendable`; this
/// wrapper only reads its state and sends signals by pid, which is safe from any thread.
final class SaverProcess: @unchecked Sendable {
    private let process: Process
    let logPath: String

    init(_ executable: String, environment: [String: String], log: String) throws {
        logPath = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` when the process still runs.
    func kill(_ signal: Int32) {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, signal) }
    }

    func waitForExit(within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return !process.isRunning
    }

    var terminationStatus: Int32 { process.terminationStatus }
    var terminationReason: Process.TerminationReason { process.terminationReason }
}
