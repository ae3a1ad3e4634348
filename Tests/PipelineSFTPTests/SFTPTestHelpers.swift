import Foundation
import Glibc
import PipelineSFTP
import TestSupport
import Testing

/// Starts the shared test server (once per process) before a suite's tests.
struct SharedSFTPServer: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await SFTPTestServer.ensureRunning()
        try await function()
    }
}

extension Trait where Self == SharedSFTPServer {
    static var sharedServer: Self { Self() }
}

extension SFTPTestServer {
    /// A client configuration for this server, with the repository's keys unless overridden.
    func configuration(
        port: Int? = nil,
        privateKeyPath: String? = nil,
        passphrase: String? = nil,
        knownHostsPath: String? = nil,
        connectTimeout: Duration = .seconds(5),
        ioTimeout: Duration = .seconds(30)
    ) -> SFTPConfiguration {
        SFTPConfiguration(
            host: host, port: port ?? self.port, user: user,
            privateKeyPath: privateKeyPath ?? self.privateKeyPath,
            passphrase: passphrase,
            knownHostsPath: knownHostsPath ?? self.knownHostsPath,
            connectTimeout: connectTimeout, ioTimeout: ioTimeout)
    }

    /// A fresh directory name under `upload/`, for one test; `remote` is the SFTP path,
    /// `onDisk` where the server keeps it.
    func scratch(_ label: String) -> (remote: String, onDisk: String) {
        let name = "test-\(label)-\(UUID().uuidString.prefix(8))"
        return ("upload/\(name)", uploadDirectoryOnDisk + "/\(name)")
    }
}

extension SFTPTestServer {
    /// Runs `body` connected to this server, with a fresh remote directory made (`remote` over
    /// SFTP, `onDisk` on the server's disk) and a local temporary one, all removed afterwards.
    func withScratch<T: Sendable>(
        _ label: String, _ body: (SFTPClient, _ local: String, _ remote: String, _ onDisk: String) async throws -> T
    ) async throws -> T {
        let local = TemporaryDirectory("sftp-test")
        let (remote, onDisk) = scratch(label)
        defer { removeTree(onDisk); withExtendedLifetime(local) {} }
        return try await SFTPClient.withConnection(configuration()) { client in
            try await client.mkdirs(remote)
            return try await body(client, local.path, remote, onDisk)
        }
    }
}

/// Removes a test's files on the server side and locally.
func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Collects bytes from a `@Sendable` chunk handler.
final class ByteCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var storage = Data()

    func append(_ bytes: UnsafeRawBufferPointer) {
        lock.withLock { storage.append(contentsOf: bytes) }
    }

    var data: Data { lock.withLock { storage } }
}

/// Records progress reports from a `@Sendable` callback.
final class ProgressRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [SFTPTransferProgress] = []

    func record(_ progress: SFTPTransferProgress) {
        lock.withLock { reports.append(progress) }
    }

    var all: [SFTPTransferProgress] { lock.withLock { reports } }
}

/// Runs `body` and returns the `SFTPError` it threw; fails the caller's expectation otherwise.
func sftpError(_ body: () async throws -> Void) async -> SFTPError? {
    do {
        try await body()
        return nil
    } catch let error as SFTPError {
        return error
    } catch {
        return nil
    }
}
