/// An SFTP status code (`libssh2_sftp_last_error`, SSH_FX_* of the SFTP drafts) with its
/// meaning in words, so errors read "no such file" rather than "status 2".
public struct SFTPStatus: Sendable, Hashable, CustomStringConvertible {
    public let code: UInt

    public init(code: UInt) { self.code = code }

    public static let ok = SFTPStatus(code: 0)
    public static let endOfFile = SFTPStatus(code: 1)
    public static let noSuchFile = SFTPStatus(code: 2)
    public static let permissionDenied = SFTPStatus(code: 3)
    /// OpenSSH's catch-all, including renaming onto an existing file and a full disk.
    public static let failure = SFTPStatus(code: 4)
    public static let badMessage = SFTPStatus(code: 5)
    public static let noConnection = SFTPStatus(code: 6)
    public static let connectionLost = SFTPStatus(code: 7)
    public static let operationUnsupported = SFTPStatus(code: 8)
    public static let noSuchPath = SFTPStatus(code: 10)
    public static let fileAlreadyExists = SFTPStatus(code: 11)
    public static let writeProtect = SFTPStatus(code: 12)
    public static let noSpaceOnFilesystem = SFTPStatus(code: 14)
    public static let quotaExceeded = SFTPStatus(code: 15)
    public static let directoryNotEmpty = SFTPStatus(code: 18)
    public static let notADirectory = SFTPStatus(code: 19)

    /// The status in words.
    public var name: String {
        switch code {
        case 0: "ok"
        case 1: "end of file"
        case 2: "no such file"
        case 3: "permission denied"
        case 4: "failure"
        case 5: "bad message"
        case 6: "no connection"
        case 7: "connection lost"
        case 8: "operation unsupported"
        case 9: "invalid handle"
        case 10: "no such path"
        case 11: "file already exists"
        case 12: "write protected"
        case 13: "no media"
        case 14: "no space on filesystem"
        case 15: "quota exceeded"
        case 16: "unknown principal"
        case 17: "lock conflict"
        case 18: "directory not empty"
        case 19: "not a directory"
        case 20: "invalid filename"
        case 21: "link loop"
        default: "unknown status"
        }
    }

    /// True for the statuses that mean "the path does not exist".
    public var meansMissing: Bool { self == .noSuchFile || self == .noSuchPath }

    public var description: String { "\(name) (SFTP status \(code))" }
}
