import CSSH2
import Foundation
import PipelineCore

/// What ``SFTPClient/append(localPath:remotePath:at:progress:)`` found and did.
public struct SFTPAppendResult: Sendable, Equatable {
    /// The remote file's size when it was opened (0 for a file the call created).
    public var sizeFound: UInt64
    /// `false` when the remote file was shorter than the offset: nothing was written, and the
    /// caller decides what to send again.
    public var appended: Bool
    /// Bytes written.
    public var bytes: Int64
    public var elapsed: Duration

    public init(sizeFound: UInt64, appended: Bool, bytes: Int64, elapsed: Duration) {
        self.sizeFound = sizeFound
        self.appended = appended
        self.bytes = bytes
        self.elapsed = elapsed
    }
}

extension SFTPConnection {
    /// ``SFTPClient/append(localPath:remotePath:at:progress:)``. The size is read on the open
    /// handle, and a longer file (the tail of an interrupted write) cut back with `fsetstat`.
    func append(
        localPath: String, remotePath: String, at offset: UInt64,
        progress: (@Sendable (SFTPTransferProgress) -> Void)?, cancellation: CancellationFlag
    ) throws -> SFTPAppendResult {
        let clock = ContinuousClock()
        let started = clock.now
        let file = try LocalFile.openForReading(localPath, endpoint: endpoint, operation: "append", remotePath: remotePath)
        let sftp = try channel("append", remotePath)
        let handle = try open(sftp, remotePath, flags: LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT, mode: 0o644,
                              operation: "append", doing: "opening \(remotePath)")
        let found = try size(of: handle, remotePath)
        guard found >= offset else {
            _ = handle.close()
            return SFTPAppendResult(sizeFound: found, appended: false, bytes: 0, elapsed: started.duration(to: clock.now))
        }
        if found > offset { try setSize(of: handle, remotePath, to: offset) }
        libssh2_sftp_seek64(handle.raw, offset)
        do {
            try streamFile(file, to: handle, sftp: sftp, remotePath: remotePath, partPath: remotePath, size: file.size,
                           started: started, progress: progress, cancellation: cancellation)
        } catch {
            _ = handle.close()
            throw error
        }
        let after = try size(of: handle, remotePath)
        let closed = handle.close()
        if closed != 0 { throw failure("append", remotePath, rc: closed, doing: "closing \(remotePath)") }
        guard after == offset + UInt64(file.size) else {
            throw SFTPError(
                kind: .sizeMismatch, endpoint: endpoint, operation: "append", path: remotePath,
                detail: "\(remotePath) has \(after) bytes on the server after appending \(file.size) bytes of \(localPath) at \(offset)")
        }
        return SFTPAppendResult(sizeFound: found, appended: true, bytes: file.size, elapsed: started.duration(to: clock.now))
    }

    private func size(of handle: SFTPFileHandle, _ path: String) throws(SFTPError) -> UInt64 {
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        let rc = libssh2_sftp_fstat_ex(handle.raw, &attributes, 0)
        if rc != 0 { throw failure("append", path, rc: rc, doing: "reading the size of \(path)") }
        guard let size = SFTPFileInfo(attributes).size else {
            throw SFTPError(kind: .remote, endpoint: endpoint, operation: "append", path: path,
                            detail: "the server did not report the size of \(path)")
        }
        return size
    }

    private func setSize(of handle: SFTPFileHandle, _ path: String, to size: UInt64) throws(SFTPError) {
        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        attributes.flags = UInt(LIBSSH2_SFTP_ATTR_SIZE)
        attributes.filesize = size
        let rc = libssh2_sftp_fstat_ex(handle.raw, &attributes, 1)
        if rc != 0 { throw failure("append", path, rc: rc, doing: "cutting \(path) back to \(size) bytes") }
    }
}
