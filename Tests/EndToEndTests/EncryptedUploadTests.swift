import Foundation
import ExtractorCore
import PipelineCore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// The scenarios that touch uploads, with the files encrypted to an age recipient: each ends,
    /// once the `.age` files are decrypted by the age tool, as the undisturbed plain run does.
    @Suite("Encrypted uploads") struct EncryptedUploads {
        @Test("15a. encrypted: SIGKILL the saver at its first write into a .age.part, restart it: the files are written again with fresh keys, and decrypt to an undisturbed run's")
        func saverKilledMidUpload() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(encrypted: true) { p in
                try await p.startAPI()
                try p.start(.transformer)
                let killed = try p.start(.saver, as: "saver-killed")
                let writes = try FileWrites(in: p.uploadDirectory) { $0.hasSuffix(".age.part") }
                async let hit = writes.firstWrite(within: .seconds(180)) { _ in killed.signal(SIGKILL) }
                let extractor = try await p.extractOnce()
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                let id = try await p.onlyRun()
                let file = try await hit
                #expect(file != nil, "nothing was uploaded")
                await killed.crash()
                #expect(!p.uploadedNames().contains { $0.hasSuffix("_manifest.json") }, "\(p.uploadedNames())")

                let restarted = try p.start(.saver, as: "saver-restarted")
                try await p.waitFor(id, [.completed, .failed])
                #expect(restarted.lines(containing: "run saved").count == 1, "\(restarted.tail())")
                #expect(p.uploadedNames().allSatisfy { $0.hasSuffix(".jsonl.age") || $0.hasSuffix("_manifest.json") }, "\(p.uploadedNames())")
                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("15b. encrypted: SIGKILL the saver between two chunks, restart it: it resumes at the next chunk, writes the files again from byte 0, and the run decrypts to an undisturbed one")
        func saverKilledBetweenChunks() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(encrypted: true) { p in
                try await p.startAPI()
                try p.start(.transformer)
                let killed = try p.start(.saver, as: "saver-killed", environment: ["SAVER_TEST_PAUSE_AFTER": "chunk"])
                let extractor = try await p.extractOnce()
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                let id = try await p.onlyRun()
                #expect(try await eventually(within: .seconds(120)) { !killed.lines(containing: "test hook: pausing after chunk").isEmpty },
                        "\(killed.tail())")
                await killed.crash()
                #expect(try #require(try await p.record(id)).chunks.saved.keys.sorted() == [0])

                let restarted = try p.start(.saver, as: "saver-restarted")
                try await p.waitFor(id, [.completed, .failed])
                #expect(restarted.lines(containing: "run saved").count == 1, "\(restarted.tail())")
                #expect(!restarted.lines(containing: "written again from their first byte, with fresh file keys").isEmpty, "\(restarted.tail())")
                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("15c. encrypted: sshd stops during the upload and starts again: the saver retries on a new connection, and the run decrypts to an undisturbed one")
        func sftpServerStoppedDuringUpload() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(encrypted: true) { p in
                try await p.startAPI()
                try p.start(.transformer)
                let saver = try p.start(.saver, environment: ["RETRY_MAX_RETRIES": "6", "RETRY_BASE_DELAY_SECONDS": "0.5"])
                let server = p.sftp
                let writes = try FileWrites(in: p.uploadDirectory) { $0.hasSuffix(".age.part") }
                async let frozen = writes.firstWrite(within: .seconds(180)) { _ in server.signalSessions(SIGSTOP) }
                let extractor = try await p.extractOnce()
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                let id = try await p.onlyRun()
                #expect(try await frozen != nil, "nothing was uploaded")

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
