import EndToEndSupport
import Foundation
import ExtractorCore
import PipelineCore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Encrypted uploads cut at their first byte on the server. Scenarios 3b and 6 also run with
    /// encryption: like this one, each ends, once the `.age` files are decrypted by the age tool,
    /// as the undisturbed plain run does.
    @Suite("Encrypted uploads") struct EncryptedUploads {
        @Test("15. encrypted: SIGKILL the saver at its first write into a .age.part, restart it: the files are written again with fresh keys, and decrypt to an undisturbed run's")
        func saverKilledMidUpload() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(encrypted: true) { p in
                try await p.startAPI()
                try p.start(.transformer)
                let killed = try p.start(.saver, as: "saver-killed")
                let id = try await p.extractOnce(actingAtFirstUploadOf: ".age.part") { _ in killed.signal(SIGKILL) }
                await killed.crash()
                #expect(!p.uploadedNames().contains { $0.hasSuffix("_manifest.json") }, "\(p.uploadedNames())")

                let restarted = try p.start(.saver, as: "saver-restarted")
                try await p.waitFor(id, [.completed, .failed])
                #expect(restarted.lines(containing: "run saved").count == 1, "\(restarted.tail())")
                #expect(p.uploadedNames().allSatisfy { $0.hasSuffix(".jsonl.age") || $0.hasSuffix("_manifest.json") }, "\(p.uploadedNames())")
                try await p.expectSameEnd(as: reference)
            }
        }
    }
}
