import CSSH2

/// `libssh2_init` is not thread-safe and must run before the first session. A global `let` is
/// initialised exactly once, on first use, by whichever thread gets there first.
private let libssh2InitResult: Int32 = libssh2_init(0)

/// Process-wide libssh2 facts: initialisation and the meaning of its error codes.
enum LibSSH2 {
    /// Initialises libssh2 once per process; returns its result (0 on success).
    static func initialize() -> Int32 { libssh2InitResult }

    /// The session's last error: code and message (`libssh2_session_last_error`).
    static func lastError(_ session: OpaquePointer) -> (code: Int32, message: String) {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        return (code, message.map { String(cString: $0) } ?? "")
    }

    /// Codes that mean the session itself is gone or stalled (the socket was closed, reset,
    /// timed out, or the stream is corrupt): nothing more can be done on it, a new connection may work.
    static func isSessionFailure(_ code: Int32) -> Bool {
        switch code {
        case LIBSSH2_ERROR_SOCKET_NONE, LIBSSH2_ERROR_BANNER_RECV, LIBSSH2_ERROR_BANNER_SEND,
            LIBSSH2_ERROR_INVALID_MAC, LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_TIMEOUT,
            LIBSSH2_ERROR_DECRYPT, LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_CHANNEL_CLOSED,
            LIBSSH2_ERROR_CHANNEL_EOF_SENT, LIBSSH2_ERROR_SOCKET_TIMEOUT, LIBSSH2_ERROR_SOCKET_RECV,
            LIBSSH2_ERROR_BAD_SOCKET, LIBSSH2_ERROR_ENCRYPT:
            return true
        default:
            return false
        }
    }

    /// Codes that mean a time limit expired.
    static func isTimeout(_ code: Int32) -> Bool {
        code == LIBSSH2_ERROR_TIMEOUT || code == LIBSSH2_ERROR_SOCKET_TIMEOUT
    }

    /// The `LIBSSH2_ERROR_*` name of a code, for error messages.
    static func errorName(_ code: Int32) -> String {
        names.indices.contains(-Int(code)) ? "LIBSSH2_ERROR_" + names[-Int(code)] : "libssh2 error"
    }

    /// `LIBSSH2_ERROR_NONE` (0) … `LIBSSH2_ERROR_RANDGEN` (-49), by minus the code.
    private static let names = [
        "NONE", "SOCKET_NONE", "BANNER_RECV", "BANNER_SEND", "INVALID_MAC", "KEX_FAILURE", "ALLOC",
        "SOCKET_SEND", "KEY_EXCHANGE_FAILURE", "TIMEOUT", "HOSTKEY_INIT", "HOSTKEY_SIGN", "DECRYPT",
        "SOCKET_DISCONNECT", "PROTO", "PASSWORD_EXPIRED", "FILE", "METHOD_NONE", "AUTHENTICATION_FAILED",
        "PUBLICKEY_UNVERIFIED", "CHANNEL_OUTOFORDER", "CHANNEL_FAILURE", "CHANNEL_REQUEST_DENIED",
        "CHANNEL_UNKNOWN", "CHANNEL_WINDOW_EXCEEDED", "CHANNEL_PACKET_EXCEEDED", "CHANNEL_CLOSED",
        "CHANNEL_EOF_SENT", "SCP_PROTOCOL", "ZLIB", "SOCKET_TIMEOUT", "SFTP_PROTOCOL", "REQUEST_DENIED",
        "METHOD_NOT_SUPPORTED", "INVAL", "INVALID_POLL_TYPE", "PUBLICKEY_PROTOCOL", "EAGAIN",
        "BUFFER_TOO_SMALL", "BAD_USE", "COMPRESS", "OUT_OF_BOUNDARY", "AGENT_PROTOCOL", "SOCKET_RECV",
        "ENCRYPT", "BAD_SOCKET", "KNOWN_HOSTS", "CHANNEL_WINDOW_FULL", "KEYFILE_AUTH_FAILED", "RANDGEN",
    ]
}
