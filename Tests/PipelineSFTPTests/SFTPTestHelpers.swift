import Foundation
import Glibc
import PipelineSFTP
import TestSupport

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

/// Removes a test's files on the server side and locally.
func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// A loopback port nothing listens on: bound, then closed, so connecting is refused.
func closedLoopbackPort() throws -> Int {
    let listener = try LoopbackListener(listen: false)
    return listener.port
}

/// A socket on 127.0.0.1 that completes TCP connections (the kernel's backlog) and then never
/// says a word: an SSH server that hangs before its banner.
final class LoopbackListener {
    let fd: Int32
    let port: Int

    init(listen shouldListen: Bool = true) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { close(fd); throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        if shouldListen { _ = listen(fd, 16) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
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
