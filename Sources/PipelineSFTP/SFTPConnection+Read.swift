import CSSH2
import Foundation
import PipelineCore

extension SFTPConnection {
    /// ``SFTPClient/read(_:progress:chunk:)``. libssh2 reads ahead up to the buffer size in
    /// ~30 kB requests.
    func read(
        _ remotePath: String,
        progress: (@Sendable (SFTPTransferProgress) -> Void)?,
        cancellation: CancellationFlag,
        chunk: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> SFTPTransferResult {
        let clock = ContinuousClock()
        let started = clock.now
        let sftp = try channel("read", remotePath)
        let handle = try open(sftp, remotePath, flags: LIBSSH2_FXF_READ, operation: "read")

        var attributes = LIBSSH2_SFTP_ATTRIBUTES()
        let total: Int64? = libssh2_sftp_fstat_ex(handle.raw, &attributes, 0) == 0
            ? SFTPFileInfo(attributes).size.map { Int64($0) } : nil

        let capacity = max(configuration.bufferSize, 32 * 1024)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var received: Int64 = 0
        var nextReport = Int64(capacity)

        while true {
            if cancellation.isCancelled { throw CancellationError() }
            let rc = libssh2_sftp_read(handle.raw, buffer.assumingMemoryBound(to: CChar.self), capacity)
            if rc > 0 {
                try chunk(UnsafeRawBufferPointer(start: buffer, count: rc))
                received += Int64(rc)
                if let progress, received >= nextReport {
                    progress(SFTPTransferProgress(bytesTransferred: received, totalBytes: total, elapsed: started.duration(to: .now)))
                    nextReport = received + Int64(capacity)
                }
            } else if rc == 0 {
                break
            } else if rc == Int(LIBSSH2_ERROR_EAGAIN) {
                try waitForSocket(sftp, "read", remotePath)
            } else {
                throw failure("read", remotePath, rc: Int32(truncatingIfNeeded: rc))
            }
        }
        let closed = handle.close()
        if closed != 0 { throw failure("read", remotePath, rc: closed, doing: "closing the file") }
        progress?(SFTPTransferProgress(bytesTransferred: received, totalBytes: total, elapsed: started.duration(to: clock.now)))
        return SFTPTransferResult(remotePath: remotePath, bytes: received, elapsed: started.duration(to: clock.now))
    }
}
