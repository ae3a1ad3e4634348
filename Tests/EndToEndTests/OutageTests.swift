import EndToEndSupport
import Foundation
import PipelineCore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Chaos scenarios 4–6: a signal nobody heard, and the two servers going away mid-run.
    @Suite struct Outages {
        @Test("4. the saver starts only after phase2_complete was published: it finds the run in the ledger at start-up, and the run ends as an undisturbed one")
        func missedSignal() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run { p in
                try await p.startAPI()
                try p.start(.transformer)
                let extractor = try await p.extractOnce()
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                let id = try await p.onlyRun()
                let transformed = try await p.waitFor(id, [.transformed])
                #expect(transformed.phaseFinishedAt[.transform] != nil)
                // phase2_complete went out with no saver listening; nothing was saved.
                #expect(try await p.rowCount("raw_users") == 0)
                #expect(p.uploadedNames().isEmpty)

                let saver = try p.start(.saver)
                try await p.waitFor(id, [.completed, .failed], within: .seconds(60))
                #expect(saver.lines(containing: "run saved").count == 1, "\(saver.tail())")

                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("5. redis-server restarts mid-run (mid-pagination): every stage rides it out, and the run ends as an undisturbed one")
        func redisRestartedMidRun() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(fixture: ["--delay-ms", "20"]) { p in
                // Claims that outlive the restart (production's default TTL is 30 s): a stage
                // whose claim expired while Redis was away must stop touching the run.
                let claims = ["CLAIM_TTL_SECONDS": "10"]
                try await p.startAPI()
                try p.start(.saver, environment: claims)
                try p.start(.transformer, environment: claims)
                let extractor = try p.start(.extractor, ["--once"], environment: claims)
                let id = try await p.onlyRun()
                try await p.waitForCheckpoint(id, pastSkip: 1_500)

                try await RedisTestServer.stop(port: Pipeline.redisPort)
                try await Task.sleep(for: .seconds(1))
                try await RedisTestServer.start(port: Pipeline.redisPort)

                #expect(await extractor.waitForExit(timeout: .seconds(180)))
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                try await p.waitFor(id, [.completed, .failed])

                try await p.expectSameEnd(as: reference)
            }
        }

        /// Also with encrypted uploads: the pieces are resent as they were, and the `.age` files
        /// decrypt to the undisturbed run's files.
        @Test("6. sshd stops during the upload and starts again: the saver retries on a new connection, and the run ends as an undisturbed one",
              arguments: [false, true])
        func sftpServerStoppedDuringUpload(encrypted: Bool) async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(encrypted: encrypted) { p in
                try await p.startAPI()
                try p.start(.transformer)
                // Retries enough to outlast the outage below (waits 0.5, 1, 2, 2, 2, 2 s).
                let saver = try p.start(.saver, environment: ["RETRY_MAX_RETRIES": "6", "RETRY_BASE_DELAY_SECONDS": "0.5"])

                // Frozen at the first write into a .part on the server: the upload is under way.
                let server = p.sftp
                let id = try await p.extractOnce(actingAtFirstUploadOf: ".part") { _ in server.signalSessions(SIGSTOP) }
                #expect(p.uploadedNames().contains { $0.hasSuffix(".part") }, "stopped mid-upload: \(p.uploadedNames())")
                #expect(!p.uploadedNames().contains { $0.hasSuffix("_manifest.json") })

                // The server goes away, sessions and all, for two seconds.
                server.signalSessions(SIGKILL)
                try await server.stop()
                try await Task.sleep(for: .seconds(2))
                try await server.start()

                try await p.waitFor(id, [.completed, .failed])
                #expect(!saver.lines(containing: "upload failed; retrying").isEmpty, "\(saver.tail())")

                try await p.expectSameEnd(as: reference)
            }
        }
    }
}
