import Foundation
import PipelineCore
import PipelineSFTP
import SaverCore
import Synchronization
import Testing
import TestSupport

extension SaverServerTests {
    /// Tests that stop an SFTP server get one of their own (``SFTPTestServer/ofItsOwn()``), so
    /// the shared one stays up for every other suite.
    @Suite("Saver: SFTP failures") struct UploadFailures {

        @Test("a wrong host key in known_hosts: nothing is uploaded and the run fails naming the host-key mismatch")
        func wrongHostKey() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 30)
            let impostor = try await SFTPTestFiles.generateKey(h.directory.file("impostor_host_key")).split(separator: " ")
            let knownHosts = h.directory.file("wrong_known_hosts")
            try "[127.0.0.1]:\(h.server.port) \(impostor[0]) \(impostor[1])\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)

            let saver = try await h.saver(settings: h.settings(knownHosts: knownHosts))
            let db = try await h.running(saver) { () async throws -> DatabaseSnapshot in
                let record = try #require(try await h.waitForLedger(run.id, .failed))
                #expect(record.failedPhase == .save)
                #expect(record.error?.contains("host key mismatch") == true, "\(record.error ?? "-")")
                #expect(record.error?.contains(h.server.endpoint) == true)
                let db = try DatabaseSnapshot(path: h.databasePath)
                #expect(try await eventually(within: .seconds(30)) { try db.run(run.id)?["status"] as String? == "failed" })
                return db
            }
            #expect(!FileManager.default.fileExists(atPath: h.remoteOnDisk), "nothing reached the server")
            let row = try #require(try db.run(run.id))
            #expect(row["failed_phase"] as String == "save")
            #expect((row["error"] as String).contains("host key mismatch"))
            #expect(try db.count("raw_users", run: run.id) == run.total)
            #expect(try db.count("users") == run.valid)
            #expect(try db.count("dlq_records", run: run.id) == run.invalid)
        }

        @Test("the SFTP server stopped during an upload and started again within the retry window: the run completes")
        func serverComesBack() async throws {
            let server = try SFTPTestServer.ofItsOwn()
            try await server.whileRunning {
                let h = try await SaverHarness(server: server)
                // Over 2 MiB, so the upload reports progress before it is done.
                let run = try await h.stage(rows: 3000)
                #expect(run.maskedFile.bytes > 2 << 20)

                let stopped = OnceFlag()
                let restarted = OnceFlag()
                let hooks = SaverHooks(uploadProgress: { path, progress in
                    guard path.hasSuffix("_raw.jsonl.part"), progress.bytesTransferred < progress.totalBytes ?? 0, stopped.set() else { return }
                    waitOffThePool { try? await server.stop() }
                    Task {
                        try? await Task.sleep(for: .seconds(1.5))
                        if (try? await server.start()) != nil { _ = restarted.set() }
                    }
                })
                // About 35 s of retries (0.3, 0.45, 0.7, 1, 1.5, then 2 s each): room for a restart
                // that a loaded machine makes slow.
                let retry = RetryPolicy(maxRetries: 20, baseDelay: .milliseconds(300), multiplier: 1.5, maxDelay: .seconds(2), jitter: 0.1)
                let saver = try await h.saver(settings: h.settings(retry: retry), hooks: hooks)
                let record = try await h.running(saver) { try await h.waitForLedger(run.id, .completed, limit: .seconds(120)) }
                #expect(record?.status == .completed, "\(record?.error ?? "-")")
                #expect(stopped.isSet, "the server was stopped mid-upload")
                #expect(restarted.isSet)

                let names = Saver.remoteNames(run.id)
                #expect(filesOnDisk(h.remoteOnDisk) == [names.dlq, names.manifest, names.raw, names.users].sorted(), "no .part left")
                #expect(try await sha256sum(h.remoteOnDisk + "/" + names.raw) == sha256sum(run.maskedFile.path))
                #expect(try await sha256sum(h.remoteOnDisk + "/" + names.users) == sha256sum(run.usersFile.path))
                #expect(try await sha256sum(h.remoteOnDisk + "/" + names.dlq) == sha256sum(run.dlqFile.path))
                let db = try DatabaseSnapshot(path: h.databasePath)
                #expect(try db.run(run.id)?["status"] as String? == "completed")
            }
        }

        @Test("the SFTP server stopped during an upload and left down: the run fails with the SFTP error, its rows intact")
        func serverStaysDown() async throws {
            let server = try SFTPTestServer.ofItsOwn()
            try await server.whileRunning {
                let h = try await SaverHarness(server: server)
                let run = try await h.stage(rows: 3000)
                let stopped = OnceFlag()
                let hooks = SaverHooks(uploadProgress: { path, progress in
                    guard path.hasSuffix("_raw.jsonl.part"), progress.bytesTransferred < progress.totalBytes ?? 0, stopped.set() else { return }
                    waitOffThePool { try? await server.stop() }
                })
                let retry = RetryPolicy(maxRetries: 2, baseDelay: .milliseconds(200), multiplier: 2, maxDelay: .seconds(1), jitter: 0.1)
                let saver = try await h.saver(settings: h.settings(retry: retry), hooks: hooks)
                let db = try await h.running(saver) { () async throws -> DatabaseSnapshot in
                    let record = try #require(try await h.waitForLedger(run.id, .failed))
                    #expect(record.failedPhase == .save)
                    let error = record.error ?? ""
                    // A stored error shows every URL without its userinfo (docs/STAGING.md, "Redacted URLs").
                    #expect(error.contains("could not upload the run's files to sftp://***@\(server.endpoint)/\(h.remoteDirectory)"), "\(error)")
                    #expect(error.contains("gave up after 3 attempts"), "\(error)")
                    #expect(error.contains("SFTP connect on \(server.endpoint) failed"), "\(error)")
                    let db = try DatabaseSnapshot(path: h.databasePath)
                    #expect(try await eventually(within: .seconds(30)) { try db.run(run.id)?["status"] as String? == "failed" })
                    return db
                }
                #expect(stopped.isSet)
                let row = try #require(try db.run(run.id))
                #expect(row["failed_phase"] as String == "save")
                #expect((row["error"] as String).contains("gave up after 3 attempts"))
                #expect(row["extracted"] as Int == run.total)
                #expect(try db.count("raw_users", run: run.id) == run.total)
                #expect(try db.count("users") == run.valid)
                #expect(try db.count("dlq_records", run: run.id) == run.invalid)
                #expect(!filesOnDisk(h.remoteOnDisk).contains(Saver.remoteNames(run.id).manifest))
            }
        }
    }
}

/// Runs `body` to completion from a synchronous callback on a thread outside Swift's cooperative
/// pool, blocking only that thread: here the SFTP connection's own thread, where upload progress
/// is reported, so the upload goes on only once the server is stopped. Never call it from a task.
func waitOffThePool(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    done.wait()
}

/// A flag set once, from any thread.
final class OnceFlag: Sendable {
    private let state = Mutex(false)

    /// Sets the flag; returns `true` only for the call that set it.
    func set() -> Bool {
        state.withLock { isSet in
            defer { isSet = true }
            return !isSet
        }
    }

    var isSet: Bool { state.withLock { $0 } }
}
