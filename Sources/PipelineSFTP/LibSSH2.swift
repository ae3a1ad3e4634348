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
        switch code {
        case 0: "LIBSSH2_ERROR_NONE"
        case -1: "LIBSSH2_ERROR_SOCKET_NONE"
        case -2: "LIBSSH2_ERROR_BANNER_RECV"
        case -3: "LIBSSH2_ERROR_BANNER_SEND"
        case -4: "LIBSSH2_ERROR_INVALID_MAC"
        case -5: "LIBSSH2_ERROR_KEX_FAILURE"
        case -6: "LIBSSH2_ERROR_ALLOC"
        case -7: "LIBSSH2_ERROR_SOCKET_SEND"
        case -8: "LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE"
        case -9: "LIBSSH2_ERROR_TIMEOUT"
        case -10: "LIBSSH2_ERROR_HOSTKEY_INIT"
        case -11: "LIBSSH2_ERROR_HOSTKEY_SIGN"
        case -12: "LIBSSH2_ERROR_DECRYPT"
        case -13: "LIBSSH2_ERROR_SOCKET_DISCONNECT"
        case -14: "LIBSSH2_ERROR_PROTO"
        case -15: "LIBSSH2_ERROR_PASSWORD_EXPIRED"
        case -16: "LIBSSH2_ERROR_FILE"
        case -17: "LIBSSH2_ERROR_METHOD_NONE"
        case -18: "LIBSSH2_ERROR_AUTHENTICATION_FAILED"
        case -19: "LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED"
        case -20: "LIBSSH2_ERROR_CHANNEL_OUTOFORDER"
        case -21: "LIBSSH2_ERROR_CHANNEL_FAILURE"
        case -22: "LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED"
        case -23: "LIBSSH2_ERROR_CHANNEL_UNKNOWN"
        case -24: "LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED"
        case -25: "LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED"
        case -26: "LIBSSH2_ERROR_CHANNEL_CLOSED"
        case -27: "LIBSSH2_ERROR_CHANNEL_EOF_SENT"
        case -28: "LIBSSH2_ERROR_SCP_PROTOCOL"
        case -29: "LIBSSH2_ERROR_ZLIB"
        case -30: "LIBSSH2_ERROR_SOCKET_TIMEOUT"
        case -31: "LIBSSH2_ERROR_SFTP_PROTOCOL"
        case -32: "LIBSSH2_ERROR_REQUEST_DENIED"
        case -33: "LIBSSH2_ERROR_METHOD_NOT_SUPPORTED"
        case -34: "LIBSSH2_ERROR_INVAL"
        case -35: "LIBSSH2_ERROR_INVALID_POLL_TYPE"
        case -36: "LIBSSH2_ERROR_PUBLICKEY_PROTOCOL"
        case -37: "LIBSSH2_ERROR_EAGAIN"
        case -38: "LIBSSH2_ERROR_BUFFER_TOO_SMALL"
        case -39: "LIBSSH2_ERROR_BAD_USE"
        case -40: "LIBSSH2_ERROR_COMPRESS"
        case -41: "LIBSSH2_ERROR_OUT_OF_BOUNDARY"
        case -42: "LIBSSH2_ERROR_AGENT_PROTOCOL"
        case -43: "LIBSSH2_ERROR_SOCKET_RECV"
        case -44: "LIBSSH2_ERROR_ENCRYPT"
        case -45: "LIBSSH2_ERROR_BAD_SOCKET"
        case -46: "LIBSSH2_ERROR_KNOWN_HOSTS"
        case -47: "LIBSSH2_ERROR_CHANNEL_WINDOW_FULL"
        case -48: "LIBSSH2_ERROR_KEYFILE_AUTH_FAILED"
        case -49: "LIBSSH2_ERROR_RANDGEN"
        default: "libssh2 error"
        }
    }
}

extension Duration {
    /// Whole milliseconds, at least 1, for C APIs that take an `int`/`long` of milliseconds.
    var clampedMilliseconds: Int {
        let (seconds, attoseconds) = components
        let ms = seconds.multipliedReportingOverflow(by: 1000)
        guard !ms.overflow else { return Int(Int32.max) }
        return Swift.max(1, Swift.min(Int(ms.partialValue) + Int(attoseconds / 1_000_000_000_000_000), Int(Int32.max)))
    }
}
