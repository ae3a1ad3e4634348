import Foundation
import PipelineAge
import TestSupport
import Testing

@Suite("scripts/gen-keys.sh --age")
struct AgeKeyScriptTests {
    @Test("makes an identity only its owner can read, prints its recipient as a .env line, and keeps it on a second call")
    func makesAndKeepsAnIdentity() async throws {
        let directory = TemporaryDirectory("gen-keys-age")
        let identity = directory.file("keys/identity.txt")
        let script = repositoryRoot + "/scripts/gen-keys.sh"
        let first = try await runCommand(script, ["--age", identity])
        let line = first.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(line.hasPrefix("SFTP_ENCRYPT_RECIPIENTS=age1"))
        let recipient = try AgeRecipient(String(line.dropFirst("SFTP_ENCRYPT_RECIPIENTS=".count)))
        #expect(try await runCommand("age-keygen", ["-y", identity]).trimmingCharacters(in: .whitespacesAndNewlines) == recipient.encoded)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: identity)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        #expect(try await runCommand(script, ["--age", identity]) == first, "the same identity, kept")
    }
}
