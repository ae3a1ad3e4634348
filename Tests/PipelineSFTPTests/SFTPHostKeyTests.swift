import Foundation
import PipelineSFTP
import TestSupport
import Testing

/// The server's host key must be in known_hosts, with the same key: anything else is refused
/// before any credential is offered or any byte uploaded.
@Suite("SFTP host key checking", .sharedServer)
struct SFTPHostKeyTests {
    let server = SFTPTestServer.current

    @Test("a different key for [127.0.0.1]:port is refused as a mismatch and nothing is uploaded")
    func mismatchIsRefused() async throws {
        let local = try SFTPTestFiles.makeTemporaryDirectory()
        let (remote, onDisk) = server.scratch("mismatch")
        defer { removeTree(local); removeTree(onDisk) }
        let impostor = try await SFTPTestFiles.generateKey(local + "/impostor_host_key")
        let parts = impostor.split(separator: " ")
        let knownHosts = local + "/known_hosts"
        try "[127.0.0.1]:\(server.port) \(parts[0]) \(parts[1])\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        try Data("secret rows\n".utf8).write(to: URL(fileURLWithPath: local + "/users.jsonl"))
        try FileManager.default.createDirectory(atPath: onDisk, withIntermediateDirectories: true)

        let error = try #require(await sftpError {
            try await SFTPClient.withConnection(server.configuration(knownHostsPath: knownHosts)) { client in
                _ = try await client.upload(localPath: local + "/users.jsonl", remotePath: remote + "/users.jsonl")
            }
        })
        #expect(error.kind == .hostKeyMismatch)
        #expect(error.operation == "host key check")
        #expect(error.description.contains(server.endpoint))
        #expect(error.description.contains("host key mismatch"))
        #expect(error.description.contains(knownHosts))
        #expect(error.description.contains("SHA256:"))
        #expect(error.retryDecision == .fail)
        #expect(try FileManager.default.contentsOfDirectory(atPath: onDisk).isEmpty)
    }

    @Test("a host that is not in known_hosts is refused as not found")
    func unknownHostIsRefused() async throws {
        let local = try SFTPTestFiles.makeTemporaryDirectory()
        defer { removeTree(local) }
        // The right key, but only for other names: the compose service and the local-run port.
        let hostKey = try String(contentsOfFile: server.hostPublicKeyPath, encoding: .utf8).split(separator: " ")
        let knownHosts = local + "/known_hosts"
        try """
            [127.0.0.1]:\(server.port + 1) \(hostKey[0]) \(hostKey[1])
            sftp \(hostKey[0]) \(hostKey[1])

            """.write(toFile: knownHosts, atomically: true, encoding: .utf8)

        let error = try #require(await sftpError {
            _ = try await SFTPClient.connect(server.configuration(knownHostsPath: knownHosts))
        })
        #expect(error.kind == .hostKeyUnknown)
        #expect(error.description.contains(server.endpoint))
        #expect(error.description.contains("[127.0.0.1]:\(server.port) not found in \(knownHosts)"))
        #expect(error.retryDecision == .fail)
    }

    @Test("a missing known_hosts file is refused, never treated as trust on first use")
    func missingKnownHostsFile() async throws {
        let error = try #require(await sftpError {
            _ = try await SFTPClient.connect(server.configuration(knownHostsPath: "/nonexistent/known_hosts"))
        })
        #expect(error.kind == .knownHosts)
        #expect(error.description.contains("/nonexistent/known_hosts"))
        #expect(error.retryDecision == .fail)
    }

    @Test("the generated known_hosts matches the running server")
    func generatedKnownHostsMatches() async throws {
        let client = try await SFTPClient.connect(server.configuration())
        #expect(try await client.stat("upload")?.isDirectory == true)
        await client.close()
    }
}
