import CSSH2
import Foundation

/// What `stat` knows about a remote path. Every field is optional because SFTP servers may
/// omit any attribute.
public struct SFTPFileInfo: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case file, directory, symbolicLink, other
    }

    public var kind: Kind?
    public var size: UInt64?
    /// The full mode: file type bits and permission bits.
    public var mode: UInt32?
    public var modificationDate: Date?

    public var isDirectory: Bool { kind == .directory }
    public var isFile: Bool { kind == .file }
    /// The permission bits alone (`0o644`).
    public var permissions: UInt32? { mode.map { $0 & 0o7777 } }

    init(_ attributes: LIBSSH2_SFTP_ATTRIBUTES) {
        let flags = UInt(attributes.flags)
        size = flags & UInt(LIBSSH2_SFTP_ATTR_SIZE) != 0 ? UInt64(attributes.filesize) : nil
        if flags & UInt(LIBSSH2_SFTP_ATTR_PERMISSIONS) != 0 {
            let mode = UInt32(truncatingIfNeeded: attributes.permissions)
            self.mode = mode
            switch UInt(mode) & UInt(LIBSSH2_SFTP_S_IFMT) {
            case UInt(LIBSSH2_SFTP_S_IFREG): kind = .file
            case UInt(LIBSSH2_SFTP_S_IFDIR): kind = .directory
            case UInt(LIBSSH2_SFTP_S_IFLNK): kind = .symbolicLink
            default: kind = .other
            }
        } else {
            mode = nil
            kind = nil
        }
        modificationDate = flags & UInt(LIBSSH2_SFTP_ATTR_ACMODTIME) != 0
            ? Date(timeIntervalSince1970: TimeInterval(attributes.mtime)) : nil
    }
}

/// One entry of a directory listing.
public struct SFTPEntry: Sendable, Equatable {
    /// The name within the directory.
    public var name: String
    /// The directory's path joined with ``name``.
    public var path: String
    public var info: SFTPFileInfo
}

/// How far a transfer has come, reported about once per buffer (1 MiB) so a caller can log
/// progress with throughput.
public struct SFTPTransferProgress: Sendable, Equatable {
    public var bytesTransferred: Int64
    /// The size when known in advance (uploads; reads of files whose size `stat` reported).
    public var totalBytes: Int64?
    public var elapsed: Duration
}

/// A finished transfer.
public struct SFTPTransferResult: Sendable, Equatable {
    /// The file's final remote path (uploads) or the remote file read.
    public var remotePath: String
    public var bytes: Int64
    public var elapsed: Duration

    /// Throughput in MiB/s (0 for an instant transfer).
    public var mebibytesPerSecond: Double {
        let seconds = elapsed.seconds
        return seconds > 0 ? Double(bytes) / 1_048_576 / seconds : 0
    }
}
