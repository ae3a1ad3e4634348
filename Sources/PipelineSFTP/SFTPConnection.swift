import CSSH2
import Foundation

/// One authenticated SFTP session and the blocking operations on it.
///
/// Everything here blocks on the network, so it runs only on the owning ``SFTPClient``'s
/// serial queue, never on Swift's cooperative pool; the client bridges each call to async.
/// After a session-level failure (socket closed, timeout) the connection refuses further
/// calls with that error, marked transient, so callers reconnect instead of reusing a
/// session in an unknown state.
final class SFTPConnection {
    let configuration: SFTPConfiguration
    var endpoint: String { configuration.endpoint }
    /// `nil` once closed; dropping it shuts down SFTP, disconnects and frees the session.
    private var sftp: SFTPSubsystem?
    /// The failure that made the session unusable, if any.
    private var broken: SFTPError?

    private init(configuration: SFTPConfiguration, sftp: SFTPSubsystem) {
        self.configuration = configuration
        self.sftp = sftp
    }

    /// Connects, checks the host key, authenticates and starts SFTP — in that order, so no
    /// credential is offered to a server whose key is unknown or has changed.
    static func open(_ configuration: SFTPConfiguration) throws(SFTPError) -> SFTPConnection {
        let endpoint = configuration.endpoint
        guard (1...65535).contains(configuration.port) else {
            throw SFTPError(
                kind: .invalidConfiguration, endpoint: endpoint, operation: "connect",
                detail: "port \(configuration.port) is not a TCP port number")
        }
        let socket = try TCPConnector.connect(
            host: configuration.host, port: configuration.port,
            timeout: configuration.connectTimeout, endpoint: endpoint)
        let session = try SSHSession.make(socket: socket, endpoint: endpoint)
        try session.handshake(timeout: configuration.connectTimeout)
        try KnownHostsCheck.verify(
            session: session, host: configuration.host, port: configuration.port,
            knownHostsPath: configuration.knownHostsPath)
        session.setTimeout(configuration.ioTimeout)
        let publicKey = FileManager.default.fileExists(atPath: configuration.publicKeyPath)
            ? configuration.publicKeyPath : nil
        try session.authenticate(
            user: configuration.user, privateKeyPath: configuration.privateKeyPath,
            publicKeyPath: publicKey, passphrase: configuration.passphrase)
        let sftp = try SFTPSubsystem.start(on: session)
        return SFTPConnection(configuration: configuration, sftp: sftp)
    }

    /// Shuts SFTP down and disconnects; later calls fail with ``SFTPError/Kind/closed``.
    func close() {
        sftp = nil
        broken = .closed(endpoint, "use", nil)
    }

    // MARK: Plumbing shared by the operations

    /// The live SFTP channel, or the error that ended it.
    func channel(_ operation: String, _ path: String?) throws(SFTPError) -> SFTPSubsystem {
        if let broken {
            var error = broken
            error.operation = operation
            error.path = path
            if broken.kind != .closed {
                error.detail = "the session is unusable after an earlier failure (\(broken.detail))"
            }
            throw error
        }
        guard let sftp else {
            throw .closed(endpoint, operation, path)
        }
        return sftp
    }

    /// Turns a failed libssh2 call into an ``SFTPError``: an SFTP status when the server
    /// answered with one, otherwise libssh2's session error; a session-level failure also
    /// marks the connection unusable.
    func failure(_ operation: String, _ path: String?, rc: Int32, doing: String? = nil) -> SFTPError {
        guard let sftp else {
            return .closed(endpoint, operation, path)
        }
        let (code, message) = LibSSH2.lastError(sftp.session.raw)
        let effective = code != 0 ? code : rc
        let prefix = doing.map { "\($0): " } ?? ""
        if effective == LIBSSH2_ERROR_SFTP_PROTOCOL {
            let status = sftp.lastStatus
            return SFTPError(
                kind: .remote, endpoint: endpoint, operation: operation, path: path,
                detail: prefix + status.description, libssh2Code: effective, libssh2Message: message,
                sftpStatus: status)
        }
        if LibSSH2.isSessionFailure(effective) {
            let timedOut = LibSSH2.isTimeout(effective)
            let error = SFTPError(
                kind: timedOut ? .timeout : .connectionLost, endpoint: endpoint, operation: operation, path: path,
                detail: prefix + (timedOut
                    ? "no answer from the server within \(configuration.ioTimeout)"
                    : "the SSH session to \(endpoint) broke"),
                libssh2Code: effective, libssh2Message: message)
            markBroken(error)
            return error
        }
        return SFTPError(
            kind: .remote, endpoint: endpoint, operation: operation, path: path,
            detail: prefix + "libssh2 reported an error", libssh2Code: effective, libssh2Message: message)
    }

    /// Refuses all further calls with `error`, and cuts the socket so clean-up cannot hang.
    private func markBroken(_ error: SFTPError) {
        broken = error
        sftp?.session.abort()
    }

    /// Waits for the socket after `LIBSSH2_ERROR_EAGAIN`; a silent server becomes a timeout.
    func waitForSocket(_ sftp: SFTPSubsystem, _ operation: String, _ path: String?) throws(SFTPError) {
        guard sftp.session.waitForSocket(timeout: configuration.ioTimeout) else {
            let error = SFTPError(
                kind: .timeout, endpoint: endpoint, operation: operation, path: path,
                detail: "no answer from the server within \(configuration.ioTimeout)")
            markBroken(error)
            throw error
        }
    }

    /// Opens a remote file or directory.
    func open(
        _ sftp: SFTPSubsystem, _ path: String, flags: Int32, mode: Int = 0, directory: Bool = false,
        operation: String, doing: String? = nil
    ) throws(SFTPError) -> SFTPFileHandle {
        let raw = path.withCString {
            libssh2_sftp_open_ex(
                sftp.raw, $0, UInt32(path.utf8.count), UInt(flags), mode,
                directory ? LIBSSH2_SFTP_OPENDIR : LIBSSH2_SFTP_OPENFILE)
        }
        guard let raw else {
            throw failure(operation, path, rc: libssh2_session_last_errno(sftp.session.raw), doing: doing)
        }
        return SFTPFileHandle(raw: raw, sftp: sftp)
    }

    // MARK: Metadata operations

    /// `stat` following symlinks; `nil` when the path does not exist.
    func stat(_ path: String, operation: String = "stat") throws(SFTPError) -> SFTPFileInfo? {
        let sftp = try channel(operation, path)
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        let rc = path.withCString {
            libssh2_sftp_stat_ex(sftp.raw, $0, UInt32(path.utf8.count), LIBSSH2_SFTP_STAT, &attributes)
        }
        if rc == 0 { return SFTPFileInfo(attributes) }
        let error = failure(operation, path, rc: rc)
        if error.kind == .remote, error.sftpStatus?.meansMissing == true { return nil }
        throw error
    }

    /// `mkdir -p`; an existing non-directory is an error, a directory created concurrently is not.
    func mkdirs(_ path: String) throws(SFTPError) {
        let components = path.split(separator: "/").filter { $0 != "." }
        let root = path.hasPrefix("/") ? "/" : ""
        for depth in components.indices {
            let prefix = root + components[...depth].joined(separator: "/")
            if let info = try stat(prefix, operation: "mkdirs") {
                guard info.isDirectory else {
                    throw SFTPError(
                        kind: .remote, endpoint: endpoint, operation: "mkdirs", path: path,
                        detail: "\(prefix) exists and is not a directory", sftpStatus: .notADirectory)
                }
                continue
            }
            let sftp = try channel("mkdirs", path)
            let rc = prefix.withCString {
                libssh2_sftp_mkdir_ex(sftp.raw, $0, UInt32(prefix.utf8.count), 0o755)
            }
            if rc != 0 {
                let error = failure("mkdirs", path, rc: rc, doing: "creating \(prefix)")
                if error.kind == .remote, try stat(prefix, operation: "mkdirs")?.isDirectory == true { continue }
                throw error
            }
        }
    }

    /// The entries of a directory, without `.` and `..`, sorted by name.
    func list(_ directory: String) throws(SFTPError) -> [SFTPEntry] {
        let sftp = try channel("list", directory)
        let handle = try open(sftp, directory, flags: 0, directory: true, operation: "list")
        var entries: [SFTPEntry] = []
        var name = [CChar](repeating: 0, count: 4096)
        let separator = directory.hasSuffix("/") ? "" : "/"
        while true {
            var attributes = LIBSSH2_SFTP_ATTRIBUTES()
            let count = name.withUnsafeMutableBufferPointer {
                libssh2_sftp_readdir_ex(handle.raw, $0.baseAddress, $0.count, nil, 0, &attributes)
            }
            if count == 0 { break }
            if count == LIBSSH2_ERROR_EAGAIN {
                try waitForSocket(sftp, "list", directory)
                continue
            }
            guard count > 0 else { throw failure("list", directory, rc: count) }
            let entryName = name.withUnsafeBufferPointer { buffer in
                String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(count)), as: UTF8.self)
            }
            if entryName == "." || entryName == ".." { continue }
            entries.append(SFTPEntry(name: entryName, path: directory + separator + entryName, info: SFTPFileInfo(attributes)))
        }
        let rc = handle.close()
        if rc != 0 { throw failure("list", directory, rc: rc, doing: "closing the directory") }
        return entries.sorted { $0.name < $1.name }
    }

    /// Deletes a file.
    func remove(_ path: String) throws(SFTPError) {
        let sftp = try channel("remove", path)
        let rc = path.withCString { libssh2_sftp_unlink_ex(sftp.raw, $0, UInt32(path.utf8.count)) }
        if rc != 0 { throw failure("remove", path, rc: rc) }
    }

    /// Renames `source` to `destination`. SFTP v3 (all libssh2 1.10 speaks) cannot rename onto
    /// an existing file — OpenSSH answers "failure" — so with `replacing` an existing
    /// destination file is removed first. Not atomic: a reader may briefly see no file.
    func rename(_ source: String, to destination: String, replacing: Bool) throws(SFTPError) {
        if replacing, let existing = try stat(destination, operation: "rename") {
            guard !existing.isDirectory else {
                throw SFTPError(
                    kind: .remote, endpoint: endpoint, operation: "rename", path: destination,
                    detail: "cannot replace \(destination): it is a directory", sftpStatus: .failure)
            }
            try remove(destination)
        }
        let sftp = try channel("rename", source)
        let flags = LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE
        let rc = source.withCString { from in
            destination.withCString { to in
                libssh2_sftp_rename_ex(
                    sftp.raw, from, UInt32(source.utf8.count), to, UInt32(destination.utf8.count), Int(flags))
            }
        }
        if rc != 0 { throw failure("rename", source, rc: rc, doing: "renaming to \(destination)") }
    }
}
