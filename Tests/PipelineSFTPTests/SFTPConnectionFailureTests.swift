import Foundation
import PipelineCore
import PipelineSFTP
import TestSupport
import Testing

/// Servers that are not there or do not answer: clear errors, classified transient, and bounded
/// in time. Only loopback addresses.
@Suite("SFTP connection failures")
struct SFTPConnectionFailureTests {
    let server = SFTPTestServer.current

    @Test("a closed port is refused, named, and classified as worth a retry")
    func connectionRefused() async throws {
        let port = try freePort()
        let error = try #require(await sftpError {
            _ = try await SFTPClient.connect(server.configuration(port: port))
        })
        #expect(error.kind == .connect)
        #expect(error.endpoint == "127.0.0.1:\(port)")
        #expect(error.description.contains("127.0.0.1:\(port)"))
        #expect(error.description.contains("connection refused (ECONNREFUSED)"))
        #expect(error.posixErrno == ECONNREFUSED)
        #expect(error.retryDecision == .retry(retryAfter: nil))
        #expect(SFTPError.classify(error) == .retry(retryAfter: nil))
    }

    @Test("RetryPolicy retries a refused connection and gives up after its retries")
    func retryPolicyRetriesRefusedConnection() async throws {
        let port = try freePort()
        let policy = RetryPolicy(maxRetries: 2, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5))
        let attempts = AttemptCounter()
        do {
            _ = try await policy.run({ _ in
                attempts.increment()
                return try await SFTPClient.connect(server.configuration(port: port))
            }, classify: SFTPError.classify)
            Issue.record("connecting to a closed port succeeded")
        } catch let exhausted as RetriesExhausted {
            #expect(exhausted.attempts == 3)
            #expect((exhausted.lastError as? SFTPError)?.kind == .connect)
        }
        #expect(attempts.value == 3)
    }

    @Test("a server that accepts and never answers times out within the connect timeout")
    func silentServerTimesOut() async throws {
        let listener = try SilentListener()
        let clock = ContinuousClock()
        let started = clock.now
        let error = try #require(await sftpError {
            _ = try await SFTPClient.connect(server.configuration(port: listener.port, connectTimeout: .seconds(2)))
        })
        let elapsed = started.duration(to: clock.now)
        #expect(error.kind == .timeout)
        #expect(error.operation == "handshake")
        #expect(error.description.contains("127.0.0.1:\(listener.port)"))
        #expect(error.description.contains("timed out"))
        #expect(error.isTransient)
        #expect(elapsed >= .seconds(1))
        #expect(elapsed < .seconds(20), "took \(elapsed)")
        withExtendedLifetime(listener) {}
    }

    @Test("a blocked connection does not stall other tasks on the cooperative pool")
    func blockingWorkStaysOffTheCooperativePool() async throws {
        // Three connections hang in their handshakes for 20 s, more than the pool's threads
        // (one per core). Were libssh2's blocking calls on the pool, a 200 ms sleep would last
        // until the handshakes time out; the bound, half that, leaves room for a loaded machine.
        let listeners = try (0..<3).map { _ in try SilentListener() }
        let clock = ContinuousClock()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for listener in listeners {
                let configuration = server.configuration(port: listener.port, connectTimeout: .seconds(20))
                group.addTask { _ = try? await SFTPClient.connect(configuration) }
            }
            try await Task.sleep(for: .milliseconds(300))
            let started = clock.now
            try await Task.sleep(for: .milliseconds(200))
            let slept = started.duration(to: clock.now)
            #expect(slept < .seconds(10), "a 200 ms sleep took \(slept)")
            try await group.waitForAll()
        }
        withExtendedLifetime(listeners) {}
    }
}

/// Tests that stop a server: they get their own sshd on a free port, never the shared one.
@Suite("SFTP dropped sessions", .serialized)
struct SFTPDroppedSessionTests {
    let server: SFTPTestServer
    init() throws { server = try .ofItsOwn() }

    /// Runs `body` while the server runs (stopped afterwards whatever happens, as a `defer`
    /// would, which cannot await), with a local directory holding a known_hosts file for it.
    func whileRunning(_ body: (_ local: String, _ knownHosts: String) async throws -> Void) async throws {
        let local = TemporaryDirectory("sftp-test")
        try await server.whileRunning {
            try server.writeKnownHosts(to: local.file("known_hosts"))
            try await body(local.path, local.file("known_hosts"))
        }
    }

    @Test("a session the server drops is reported as lost, classified transient, and not reused")
    func droppedSession() async throws {
        try await whileRunning { _, knownHosts in
            let client = try await SFTPClient.connect(server.configuration(knownHostsPath: knownHosts, ioTimeout: .seconds(5)))
            #expect(try await client.stat("upload")?.isDirectory == true)
            try await server.stop()

            let error = try #require(await sftpError { _ = try await client.stat("upload") })
            #expect(error.kind == .connectionLost)
            #expect(error.description.contains("SFTP stat of \"upload\" on \(server.endpoint) failed"))
            #expect(error.isTransient)
            let libssh2Code = try #require(error.libssh2Code)
            #expect(libssh2Code < 0)

            // The session is not reused: later calls fail at once with the same, transient, cause.
            let again = try #require(await sftpError { try await client.mkdirs("upload/x") })
            #expect(again.kind == .connectionLost)
            #expect(again.operation == "mkdirs")
            #expect(again.description.contains("earlier failure"))
            await client.close()

            // Once the server is back, a new connection works.
            try await server.start()
            let fresh = try await SFTPClient.connect(server.configuration(knownHostsPath: knownHosts))
            #expect(try await fresh.stat("upload")?.isDirectory == true)
            await fresh.close()
        }
    }
}

extension SFTPDroppedSessionTests {
    @Test("a server that stops answering mid-session times out within the I/O timeout")
    func silentSessionTimesOut() async throws {
        try await whileRunning { local, knownHosts in
            try await SFTPTestFiles.writeRandomFile(local + "/data.bin", size: 8 << 20)

            let client = try await SFTPClient.connect(server.configuration(knownHostsPath: knownHosts, ioTimeout: .seconds(2)))
            try await client.mkdirs("upload")
            server.signalSessions(SIGSTOP)
            defer { server.signalSessions(SIGCONT) }

            let clock = ContinuousClock()
            let started = clock.now
            let error = try #require(await sftpError {
                try await client.upload(localPath: local + "/data.bin", remotePath: "upload/data.bin")
            })
            let elapsed = started.duration(to: clock.now)
            #expect(error.kind == .timeout)
            #expect(error.description.contains("no answer from the server within 2.0 seconds"))
            #expect(error.isTransient)
            #expect(elapsed < .seconds(20), "took \(elapsed)")

            // Closing a client whose server stopped answering does not hang either.
            let closeStarted = clock.now
            await client.close()
            #expect(closeStarted.duration(to: clock.now) < .seconds(10))
        }
    }
}

final class AttemptCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
