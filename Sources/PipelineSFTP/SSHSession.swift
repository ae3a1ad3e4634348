import CSSH2
import Foundation

/// Owns one libssh2 session and the TCP socket under it.
///
/// Not thread-safe, like libssh2 itself: it is created, used and released on one connection's
/// serial queue. `deinit` owns all cleanup (disconnect, free, close the socket, in that order),
/// so a failure half-way through connecting just drops the object — no cleanup in `catch`
/// blocks that could free the session twice.
final class SSHSession {
    let raw: OpaquePointer
    let socket: Int32
    let endpoint: String
    /// Set once the handshake succeeded, so `deinit` says goodbye to the server.
    private var connected = false

    private init(raw: OpaquePointer, socket: Int32, endpoint: String) {
        self.raw = raw
        self.socket = socket
        self.endpoint = endpoint
    }

    /// Creates a session over `socket`, taking ownership of the socket even on failure.
    static func make(socket: Int32, endpoint: String) throws(SFTPError) -> SSHSession {
        let initResult = LibSSH2.initialize()
        guard initResult == 0, let raw = libssh2_session_init_ex(nil, nil, nil, nil) else {
            close(socket)
            throw SFTPError(
                kind: .handshake, endpoint: endpoint, operation: "connect",
                detail: "libssh2 could not create a session (libssh2_init returned \(initResult))")
        }
        return SSHSession(raw: raw, socket: socket, endpoint: endpoint)
    }

    deinit {
        if connected {
            _ = libssh2_session_disconnect_ex(raw, SSH_DISCONNECT_BY_APPLICATION, "closing", "")
        }
        libssh2_session_free(raw)
        close(socket)
    }

    /// Shuts the socket down after the session failed (reset, timeout): the SSH stream is in an
    /// unknown state, and this makes the clean-up calls that follow (closing handles, SFTP
    /// shutdown, disconnect) fail at once instead of each waiting out the I/O timeout on a
    /// server that stopped answering.
    func abort() {
        shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Limits every later blocking libssh2 call (libssh2 counts it per call, from its start).
    func setTimeout(_ timeout: Duration) {
        libssh2_session_set_timeout(raw, timeout.wholeMilliseconds)
    }

    /// Banner exchange, key exchange and the server's host key.
    func handshake(timeout: Duration) throws(SFTPError) {
        setTimeout(timeout)
        let rc = libssh2_session_handshake(raw, socket)
        guard rc == 0 else {
            let (code, message) = LibSSH2.lastError(raw)
            let timedOut = LibSSH2.isTimeout(rc) || LibSSH2.isTimeout(code)
            throw SFTPError(
                kind: timedOut ? .timeout : .handshake, endpoint: endpoint, operation: "handshake",
                detail: timedOut
                    ? "timed out after \(timeout): the server accepted the TCP connection but did not complete the SSH handshake"
                    : "the SSH handshake failed (is this an SSH server, and does it offer an ed25519 or ECDSA host key?)",
                libssh2Code: code == 0 ? rc : code, libssh2Message: message)
        }
        connected = true
    }

    /// The server's host key as sent in the handshake: raw bytes and libssh2 type.
    func hostKey() -> (key: [UInt8], type: Int32)? {
        var length = 0
        var type: Int32 = 0
        guard let pointer = libssh2_session_hostkey(raw, &length, &type), length > 0 else { return nil }
        let bytes = UnsafeRawBufferPointer(start: pointer, count: length)
        return (Array(bytes), type)
    }

    /// The host key's SHA-256 fingerprint as OpenSSH prints it (`SHA256:` + unpadded base64).
    func hostKeyFingerprint() -> String? {
        guard let hash = libssh2_hostkey_hash(raw, LIBSSH2_HOSTKEY_HASH_SHA256) else { return nil }
        let digest = Data(bytes: hash, count: 32)
        return "SHA256:" + digest.base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// Public-key authentication from key files (`libssh2_userauth_publickey_fromfile_ex`).
    func authenticate(user: String, privateKeyPath: String, publicKeyPath: String?, passphrase: String?) throws(SFTPError) {
        func refused(_ detail: String, code: Int32? = nil, message: String? = nil) -> SFTPError {
            SFTPError(
                kind: .authentication, endpoint: endpoint, operation: "authenticate",
                detail: "public-key authentication as user \"\(user)\" with key \(privateKeyPath) refused: \(detail)",
                libssh2Code: code, libssh2Message: message)
        }
        guard FileManager.default.isReadableFile(atPath: privateKeyPath) else {
            let exists = FileManager.default.fileExists(atPath: privateKeyPath)
            throw refused(exists ? "the private key file is not readable" : "the private key file does not exist")
        }
        let rc = user.withCString { userPointer in
            privateKeyPath.withCString { privatePointer in
                withOptionalCString(publicKeyPath) { publicPointer in
                    withOptionalCString(passphrase) { passphrasePointer in
                        libssh2_userauth_publickey_fromfile_ex(
                            raw, userPointer, UInt32(user.utf8.count), publicPointer, privatePointer, passphrasePointer)
                    }
                }
            }
        }
        guard rc == 0 else {
            let (code, message) = LibSSH2.lastError(raw)
            let effective = code == 0 ? rc : code
            if LibSSH2.isSessionFailure(effective) {
                throw SFTPError(
                    kind: LibSSH2.isTimeout(effective) ? .timeout : .connectionLost,
                    endpoint: endpoint, operation: "authenticate",
                    detail: "the connection broke while authenticating as user \"\(user)\"",
                    libssh2Code: effective, libssh2Message: message)
            }
            // With the .pub file present libssh2 offers the public key first; the private key
            // is only loaded to sign once the server accepts it, and a failure there (wrong
            // passphrase) surfaces as -19 "Callback returned error".
            let keyNotLoaded = effective == LIBSSH2_ERROR_FILE || effective == LIBSSH2_ERROR_KEYFILE_AUTH_FAILED
                || (effective == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED && message.contains("Callback returned error"))
            let hint: String
            if keyNotLoaded {
                hint = passphrase?.isEmpty == false
                    ? "the private key could not be loaded (wrong passphrase, or not a supported key file)"
                    : "the private key could not be loaded (it may need a passphrase, or is not a supported key file)"
            } else if effective == LIBSSH2_ERROR_AUTHENTICATION_FAILED {
                hint = "the server does not accept this key for this user (is its public key in the server's authorized keys?)"
            } else if effective == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED {
                hint = "the server rejected the signature (does the private key match \(publicKeyPath ?? "its public key")?)"
            } else {
                hint = "authentication failed"
            }
            throw refused(hint, code: effective, message: message)
        }
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on; used when a call
    /// answers `LIBSSH2_ERROR_EAGAIN` (only in non-blocking mode, but handled regardless).
    func waitForSocket(timeout: Duration) -> Bool {
        let directions = libssh2_session_block_directions(raw)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { return true }
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        while true {
            let ready = poll(&descriptor, 1, Int32(timeout.wholeMilliseconds))
            if ready >= 0 { return ready > 0 }
            if errno != EINTR { return false }
        }
    }
}

/// `withCString` for an optional string: `nil` (or empty) becomes a NULL pointer.
func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string, !string.isEmpty else { return body(nil) }
    return string.withCString { body($0) }
}
