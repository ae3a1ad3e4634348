/// An SFTP status code (`libssh2_sftp_last_error`, SSH_FX_* of the SFTP drafts) with its
/// meaning in words, so errors read "no such file" rather than "status 2".
public struct SFTPStatus: Sendable, Hashable, CustomStringConvertible {
    public let code: UInt

    public init(code: UInt) { self.code = code }

    public static let noSuchFile = SFTPStatus(code: 2)
    public static let permissionDenied = SFTPStatus(code: 3)
    /// OpenSSH's catch-all, including renaming onto an existing file and a full disk.
    public static let failure = SFTPStatus(code: 4)
    public static let noConnection = SFTPStatus(code: 6)
    public static let connectionLost = SFTPStatus(code: 7)
    public static let noSuchPath = SFTPStatus(code: 10)
    public static let notADirectory = SFTPStatus(code: 19)

    /// The status in words, by code (SSH_FX_OK = 0 … SSH_FX_LINK_LOOP = 21).
    private static let names = [
        "ok", "end of file", "no such file", "permission denied", "failure", "bad message", "no connection",
        "connection lost", "operation unsupported", "invalid handle", "no such path", "file already exists",
        "write protected", "no media", "no space on filesystem", "quota exceeded", "unknown principal",
        "lock conflict", "directory not empty", "not a directory", "invalid filename", "link loop",
    ]

    public var name: String { code < Self.names.count ? Self.names[Int(code)] : "unknown status" }

    /// True for the statuses that mean "the path does not exist".
    public var meansMissing: Bool { self == .noSuchFile || self == .noSuchPath }

    public var description: String { "\(name) (SFTP status \(code))" }
}
