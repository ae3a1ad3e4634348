import CSSH2

/// The SFTP subsystem channel of one session (`libssh2_sftp_init`).
///
/// Holds the session strongly so the session outlives every SFTP object that uses it;
/// `deinit` shuts the channel down. Confined to the connection's queue like the session.
final class SFTPSubsystem {
    let raw: OpaquePointer
    let session: SSHSession

    private init(raw: OpaquePointer, session: SSHSession) {
        self.raw = raw
        self.session = session
    }

    static func start(on session: SSHSession) throws(SFTPError) -> SFTPSubsystem {
        guard let raw = libssh2_sftp_init(session.raw) else {
            let (code, message) = LibSSH2.lastError(session.raw)
            throw SFTPError(
                kind: LibSSH2.isSessionFailure(code) ? (LibSSH2.isTimeout(code) ? .timeout : .connectionLost) : .remote,
                endpoint: session.endpoint, operation: "start SFTP subsystem",
                detail: "the server did not start the SFTP subsystem (is this an SFTP server, and is the account allowed to use it?)",
                libssh2Code: code, libssh2Message: message)
        }
        return SFTPSubsystem(raw: raw, session: session)
    }

    deinit {
        _ = libssh2_sftp_shutdown(raw)
    }

    /// The SFTP status of the last failed request.
    var lastStatus: SFTPStatus { SFTPStatus(code: libssh2_sftp_last_error(raw)) }
}

/// An open remote file or directory (`libssh2_sftp_open_ex`). `close()` reports the server's
/// answer (a failed close can mean the data did not reach the disk); `deinit` closes a handle
/// that was abandoned on an error path.
final class SFTPFileHandle {
    private(set) var raw: OpaquePointer?
    let sftp: SFTPSubsystem

    init(raw: OpaquePointer, sftp: SFTPSubsystem) {
        self.raw = raw
        self.sftp = sftp
    }

    /// Closes the handle; returns libssh2's result (0 on success).
    func close() -> Int32 {
        guard let raw else { return 0 }
        self.raw = nil
        return libssh2_sftp_close_handle(raw)
    }

    deinit {
        if let raw { _ = libssh2_sftp_close_handle(raw) }
    }
}
