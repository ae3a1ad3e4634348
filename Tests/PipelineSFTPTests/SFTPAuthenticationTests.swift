import Foundation
import PipelineSFTP
import TestSupport
import Testing

/// Public-key authentication: unknown keys are refused with a message that says which user
/// and key; passphrase-protected keys work with the right passphrase only.
@Suite("SFTP authentication", .sharedServer)
struct SFTPAuthenticationTests {
    let server = SFTPTestServer.current

    @Test("a key that is not authorized is refused, naming the user and the key path")
    func unauthorizedKeyIsRefused() async throws {
        let local = try SFTPTestFiles.makeTemporaryDirectory()
        defer { removeTree(local) }
        let key = local + "/stranger_ed25519"
        try await SFTPTestFiles.generateKey(key)

        let error = try #require(await sftpError {
            _ = try await SFTPClient.connect(server.configuration(privateKeyPath: key))
        })
        #expect(error.kind == .authentication)
        #expect(error.description.contains("\"\(server.user)\""))
        #expect(error.description.contains(key))
        #expect(error.description.contains(server.endpoint))
        let libssh2Message = try #require(error.libssh2Message)
        #expect(!libssh2Message.isEmpty)
        #expect(error.description.contains(libssh2Message))
        #expect(error.retryDecision == .fail)
    }

    @Test("a missing private key file is reported as such")
    func missingPrivateKey() async throws {
        let error = try #require(await sftpError {
            _ = try await SFTPClient.connect(server.configuration(privateKeyPath: "/nonexistent/id_ed25519"))
        })
        #expect(error.kind == .authentication)
        #expect(error.description.contains("/nonexistent/id_ed25519"))
        #expect(error.description.contains("does not exist"))
    }

    @Test("a passphrase-protected key works with its passphrase and fails clearly without it")
    func passphraseProtectedKey() async throws {
        let local = try SFTPTestFiles.makeTemporaryDirectory()
        let (remote, onDisk) = server.scratch("passphrase")
        defer { removeTree(local); removeTree(onDisk) }
        let key = local + "/protected_ed25519"
        let passphrase = "correct horse battery staple"
        let publicKey = try await SFTPTestFiles.generateKey(key, passphrase: passphrase, comment: "sftp-test-passphrase")
        try server.authorize(publicKeyLine: publicKey)
        defer { server.revoke(publicKeyLine: publicKey) }
        try Data("{\"id\":7}\n".utf8).write(to: URL(fileURLWithPath: local + "/users.jsonl"))

        try await SFTPClient.withConnection(server.configuration(privateKeyPath: key, passphrase: passphrase)) { client in
            try await client.mkdirs(remote)
            try await client.upload(localPath: local + "/users.jsonl", remotePath: remote + "/users.jsonl")
        }
        #expect(try String(contentsOfFile: onDisk + "/users.jsonl", encoding: .utf8) == "{\"id\":7}\n")

        let wrong = "tr0ub4dor&3"
        let wrongError = try #require(await sftpError {
            _ = try await SFTPClient.connect(server.configuration(privateKeyPath: key, passphrase: wrong))
        })
        #expect(wrongError.kind == .authentication)
        #expect(wrongError.description.contains("\"\(server.user)\""))
        #expect(wrongError.description.contains(key))
        #expect(wrongError.description.contains("wrong passphrase"))
        #expect(!wrongError.description.contains(wrong))
        #expect(!wrongError.description.contains(passphrase))
        #expect(wrongError.retryDecision == .fail)

        let noneError = try #require(await sftpError {
            _ = try await SFTPClient.connect(server.configuration(privateKeyPath: key))
        })
        #expect(noneError.kind == .authentication)
        #expect(noneError.description.contains("passphrase"))
    }
}
