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
            defer { first.signal(SIGKILL) }
            let db = try DatabaseSnapshot(path: h.databasePath)
            #expect(try db.count("raw_users", run: run.id) == run.total)
            #expect(try db.count("users") == run.valid)
            #expect(try db.count("dlq_records") == 0, "killed before the DLQ transaction")
            #expect(try db.run(run.id)?["status"] as String? != "completed")
            first.signal(SIGKILL)
            #expect(await first.waitForExit(timeout: .seconds(30)))
            #expect(first.terminationReason == .uncaughtSignal)

            // The killed process's claim (CLAIM_TTL_SECONDS=2) still holds the run; the restarted
            // saver takes it over once the claim expires.
            #expect(try await h.redis.exists(LedgerKey.lock(.save, run.id)))
            let second = try await Self.restartedSaverCompletes(h, run)
            #expect(try DatabaseSnapshot(path: h.databasePath).contents() == expected)
            let names = Saver.remoteNames(run.id)
            #expect(filesOnDisk(h.remoteOnDisk) == [names.dlq, names.manifest, names.raw, names.users].sorted())
            #expect(try await sha256sum(h.remoteOnDisk + "/" + names.users) == sha256sum(run.usersFile.path))
            #expect(second.log.contains("run saved"))
        }

        @Test("SIGKILL between two chunks' transactions, restart: the save resumes at chunk 1 and ends as an uninterrupted run")
        func killedBetweenChunks() async throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build it first: swift build --build-tests")
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 300, chunkUsers: 100)
            let expected = try await Self.savedOnceThenHandedBack(h, run)

            // First process: pauses once chunk 0 is recorded saved, before chunk 1's transactions.
            let first = try await Self.pausedSaver(h, after: .chunk)
            defer { first.signal(SIGKILL) }
            let db = try DatabaseSnapshot(path: h.databasePath)
            #expect(try db.count("raw_users", run: run.id) == 100)
            #expect(try await h.ledger.run(run.id)?.chunks.saved.keys.sorted() == [0])
            first.signal(SIGKILL)
            #expect(await first.waitForExit(timeout: .seconds(30)))

            let second = try await Self.restartedSaverCompletes(h, run)
            #expect(second.log.contains("resuming the save after the chunks already saved"), "\(second.log)")
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

        /// A second saver process, after the first was killed: it completes `run`, and SIGTERM
        /// then stops it cleanly.
        static func restartedSaverCompletes(_ h: SaverHarness, _ run: StagedRunFixture) async throws -> ChildProcess {
            let second = try ChildProcess(name: "saver", executable: Self.binary, environment: h.processEnvironment(), logPath: h.directory.file("saver-2.log"))
            defer { second.signal(SIGKILL) }
            let record = try await h.waitForLedger(run.id, .completed, limit: .seconds(60))
            #expect(record?.status == .completed, "\(record?.error ?? "-"); output:\n\(second.log)")
            second.signal(SIGTERM)
            #expect(await second.waitForExit(timeout: .seconds(60)), "SIGTERM stops the saver")
            #expect(second.exitStatus == 0)
            return second
        }

        /// A saver process held by the test hook after `step`, once it logged the pause.
        static func pausedSaver(_ h: SaverHarness, after step: SaveStep) async throws -> ChildProcess {
            let process = try ChildProcess(name: "saver", executable: Self.binary, environment: h.processEnvironment(["SAVER_TEST_PAUSE_AFTER": step.rawValue]),
                                           logPath: h.directory.file("saver-1.log"))
            let paused = try await eventually(within: .seconds(60)) { process.log.contains("test hook: pausing after \(step.rawValue)") }
            if !paused { process.signal(SIGKILL) }
            try #require(paused, "the saver never reached the pause; its output:\n\(process.log)")
            return process
        }

        @Test("SIGTERM stops an idle saver cleanly, with exit status 0, every time")
        func sigtermExitsCleanly() async throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build it first: swift build --build-tests")
            let h = try await SaverHarness()
            for attempt in 1...5 {
                let process = try ChildProcess(name: "saver", executable: Self.binary, environment: h.processEnvironment(), logPath: h.directory.file("saver-term-\(attempt).log"))
                defer { process.signal(SIGKILL) }
                let ready = try await eventually(within: .seconds(20)) { process.log.contains("recorded runs") || process.log.contains("waiting for runs") }
                try #require(ready, "\(process.log)")
                try await Task.sleep(for: .milliseconds(200))
                process.signal(SIGTERM)
                #expect(await process.waitForExit(timeout: .seconds(60)))
                #expect(process.exitStatus == 0, "attempt \(attempt):\n\(process.log)")
                #expect(process.log.contains("stopped"))
            }
        }

        @Test("a bad setting stops the saver at start-up with a message naming the variable")
        func badSettingStopsStartUp() async throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build it first: swift build --build-tests")
            let h = try await SaverHarness()
            let process = try ChildProcess(name: "saver", executable: Self.binary, environment: h.processEnvironment(["STAGING_KEEP_RUNS": "many"]),
                                           logPath: h.directory.file("saver-bad.log"))
            defer { process.signal(SIGKILL) }
            #expect(await process.waitForExit(timeout: .seconds(60)))
            #expect((process.exitStatus ?? 0) != 0)
            #expect(process.log.contains("STAGING_KEEP_RUNS"), "\(process.log)")
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
