import PipelineCore

/// Everything that can go wrong talking to the SFTP server, with enough context to act on it
/// from a log line alone: the server (`host:port`), the operation and remote path, libssh2's
/// own message and the SFTP status in words.
///
/// Never contains the key passphrase. ``retryDecision`` says whether another attempt (usually
/// on a new connection) can help, for ``RetryPolicy/run(_:classify:sleep:onRetry:)``.
public struct SFTPError: Error, Sendable, CustomStringConvertible {
    /// What failed, coarse enough to branch on.
    public enum Kind: String, Sendable, Hashable {
        /// A configuration value is unusable (bad port, missing variable...).
        case invalidConfiguration
        /// The host name did not resolve.
        case nameResolution
        /// The TCP connection could not be made: refused, unreachable, reset.
        case connect
        /// Connect, handshake or a single operation exceeded its time limit.
        case timeout
        /// The SSH handshake (banner, key exchange) failed.
        case handshake
        /// The known_hosts file could not be read.
        case knownHosts
        /// The server's host key is not in known_hosts: refused, never accepted on first use.
        case hostKeyUnknown
        /// The server's host key differs from the one in known_hosts: refused.
        case hostKeyMismatch
        /// The server refused the client key, or the private key could not be loaded.
        case authentication
        /// The SSH session broke during an operation (socket closed or reset, channel closed).
        case connectionLost
        /// The server answered an SFTP request with an error status (see ``sftpStatus``).
        case remote
        /// A local file could not be read.
        case localFile
        /// The uploaded `.part` file's size differs from the local file's.
        case sizeMismatch
        /// The client was used after ``SFTPClient/close()``.
        case closed
    }

    public var kind: Kind
    /// `host:port` of the server.
    public var endpoint: String
    /// The operation that failed: `connect`, `handshake`, `host key check`, `authenticate`,
    /// `stat`, `mkdir`, `upload`...
    public var operation: String
    /// The remote path the operation was about, if any.
    public var path: String?
    /// What happened, in words.
    public var detail: String
    /// libssh2's error code (`LIBSSH2_ERROR_*`), when libssh2 reported the failure.
    public var libssh2Code: Int32?
    /// libssh2's error message (`libssh2_session_last_error`).
    public var libssh2Message: String?
    /// The SFTP status the server answered with (`libssh2_sftp_last_error`).
    public var sftpStatus: SFTPStatus?
    /// The `errno` of a failed system call (connect, read of a local file).
    public var posixErrno: Int32?

    public init(
        kind: Kind,
        endpoint: String,
        operation: String,
        path: String? = nil,
        detail: String,
        libssh2Code: Int32? = nil,
        libssh2Message: String? = nil,
        sftpStatus: SFTPStatus? = nil,
        posixErrno: Int32? = nil
    ) {
        self.kind = kind
        self.endpoint = endpoint
        self.operation = operation
        self.path = path
        self.detail = detail
        self.libssh2Code = libssh2Code
        self.libssh2Message = libssh2Message
        self.sftpStatus = sftpStatus
        self.posixErrno = posixErrno
    }

    /// For example: `SFTP stat of "upload/x.jsonl" on 127.0.0.1:2222 failed: no such file (SFTP
    /// status 2) [libssh2 error -31 LIBSSH2_ERROR_SFTP_PROTOCOL: SFTP Protocol Error]`.
    public var description: String {
        var text = "SFTP \(operation)"
        if let path { text += " of \"\(path)\"" }
        text += " on \(endpoint) failed: \(detail)"
        if let libssh2Code {
            text += " [libssh2 error \(libssh2Code) \(LibSSH2.errorName(libssh2Code))"
            if let libssh2Message, !libssh2Message.isEmpty { text += ": \(libssh2Message)" }
            text += "]"
        }
        return text
    }

    /// Transient failures are worth another attempt on a fresh connection: the server was not
    /// listening yet, the network dropped, a call timed out. Configuration, host key,
    /// authentication and permission problems fail at once — repeating them cannot help and a
    /// changed host key must never be retried into acceptance.
    public var retryDecision: RetryDecision {
        switch kind {
        case .nameResolution, .connect, .timeout, .connectionLost, .sizeMismatch:
            return .retry(retryAfter: nil)
        case .handshake:
            // A handshake that broke on the socket is the server restarting; a key exchange
            // that found no common algorithm will fail the same way every time.
            if let code = libssh2Code, LibSSH2.isSessionFailure(code) { return .retry(retryAfter: nil) }
            return .fail
        case .remote:
            if let status = sftpStatus, status == .noConnection || status == .connectionLost {
                return .retry(retryAfter: nil)
            }
            return .fail
        case .invalidConfiguration, .knownHosts, .hostKeyUnknown, .hostKeyMismatch,
            .authentication, .localFile, .closed:
            return .fail
        }
    }

    /// The error of a call on a closed client.
    static func closed(_ endpoint: String, _ operation: String, _ path: String?) -> SFTPError {
        SFTPError(kind: .closed, endpoint: endpoint, operation: operation, path: path, detail: "the client was closed")
    }

    /// ``retryDecision`` as a flag.
    public var isTransient: Bool { retryDecision != .fail }

    /// A classifier for ``RetryPolicy/run(_:classify:sleep:onRetry:)``: an ``SFTPError``'s own
    /// decision; anything else (a caller's error, cancellation) fails.
    public static func classify(_ error: any Error) -> RetryDecision {
        (error as? SFTPError)?.retryDecision ?? .fail
    }
}
