import CSSH2
import Foundation
import PipelineCore

extension SFTPConnection {
    /// ``SFTPClient/upload(localPath:remotePath:progress:)``: a reader that sees the final name
    /// sees a complete file (docs/ARCHITECTURE.md, "Remote files"). On failure or cancellation
    /// the `.part` file is removed.
    func upload(
        localPath: String,
        remotePath: String,
        progress: (@Sendable (SFTPTransferProgress) -> Void)?,
        cancellation: CancellationFlag
    ) throws -> SFTPTransferResult {
        let clock = ContinuousClock()
        let started = clock.now
        let partPath = remotePath + ".part"

        let file = try LocalFile.openForReading(localPath, endpoint: endpoint, operation: "upload", remotePath: remotePath)
        let size = file.size

        let sftp = try channel("upload", remotePath)
        let flags = LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC
        let handle = try open(sftp, partPath, flags: flags, mode: 0o644, operation: "upload", doing: "creating \(partPath)")

        do {
            try streamFile(file, to: handle, sftp: sftp, remotePath: remotePath, partPath: partPath, size: size,
                           started: started, progress: progress, cancellation: cancellation)
        } catch {
            _ = handle.close()
            discardPart(partPath)
            throw error
        }
        let closed = handle.close()
        if closed != 0 {
            let error = failure("upload", remotePath, rc: closed, doing: "closing \(partPath)")
            discardPart(partPath)
            throw error
        }

        // The server's view of the size is the check that every byte arrived.
        let remoteSize = try stat(partPath, operation: "upload")?.size
        guard remoteSize == UInt64(size) else {
            discardPart(partPath)
            throw SFTPError(
                kind: .sizeMismatch, endpoint: endpoint, operation: "upload", path: remotePath,
                detail: "\(partPath) has \(remoteSize.map(String.init) ?? "no") bytes on the server, the local file \(localPath) has \(size)")
        }
        try rename(partPath, to: remotePath, replacing: true)
        return SFTPTransferResult(remotePath: remotePath, bytes: size, elapsed: started.duration(to: clock.now))
    }

    /// Writes the whole local file at the handle's position.
    ///
    /// Throughput: libssh2 splits each `libssh2_sftp_write` into ~30 kB SFTP requests, sends
    /// all of them, and returns as soon as the first is acknowledged; requests in flight are
    /// only those covering the bytes passed in. So the loop keeps between one and two buffers
    /// (1–2 MiB) pending: it refills the buffer whenever less than one buffer is pending,
    /// moving the unacknowledged tail to the front (libssh2 copies data into its packets and
    /// only expects the same bytes to start the next call). The pipeline never drains between
    /// buffers.
    func streamFile(
        _ file: LocalFile, to handle: SFTPFileHandle, sftp: SFTPSubsystem,
        remotePath: String, partPath: String, size: Int64, started: ContinuousClock.Instant,
        progress: (@Sendable (SFTPTransferProgress) -> Void)?, cancellation: CancellationFlag
    ) throws {
        let chunk = max(configuration.bufferSize, 32 * 1024)
        let capacity = chunk * 2
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }

        var start = 0  // first byte not yet acknowledged by libssh2
        var end = 0  // end of the bytes read from the file
        var endOfFile = false
        var written: Int64 = 0
        var nextReport = Int64(chunk)
        var idleCalls = 0

        while true {
            if cancellation.isCancelled { throw CancellationError() }
            if !endOfFile && end - start < chunk {
                if start > 0 {
                    if end > start { memmove(buffer, buffer + start, end - start) }
                    end -= start
                    start = 0
                }
                while end < capacity && !endOfFile {
                    let count = try file.read(into: buffer + end, count: capacity - end)
                    if count == 0 { endOfFile = true } else { end += count }
                }
            }
            if start == end { break }

            let rc = libssh2_sftp_write(handle.raw, buffer.advanced(by: start).assumingMemoryBound(to: CChar.self), end - start)
            if rc > 0 {
                start += rc
                written += Int64(rc)
                idleCalls = 0
                if let progress, written >= nextReport || (endOfFile && start == end) {
                    progress(SFTPTransferProgress(bytesTransferred: written, totalBytes: size, elapsed: started.duration(to: .now)))
                    nextReport = written + Int64(chunk)
                }
            } else if rc == Int(LIBSSH2_ERROR_EAGAIN) {
                try waitForSocket(sftp, "upload", remotePath)
            } else if rc == 0 {
                // Cannot happen with bytes pending; never spin on it.
                idleCalls += 1
                if idleCalls > 1000 {
                    throw SFTPError(
                        kind: .connectionLost, endpoint: endpoint, operation: "upload", path: remotePath,
                        detail: "libssh2 accepted no data for \(partPath) after 1000 calls")
                }
            } else {
                throw failure("upload", remotePath, rc: Int32(truncatingIfNeeded: rc), doing: "writing \(partPath)")
            }
        }
        guard written == size else {
            throw SFTPError(
                kind: .localFile, endpoint: endpoint, operation: "upload", path: remotePath,
                detail: "the local file \(file.path) changed size during the upload (\(size) bytes at the start, \(written) read)")
        }
    }

    /// Best-effort removal of a half-written `.part` file, when the session still works.
    private func discardPart(_ partPath: String) {
        guard (try? channel("upload", partPath)) != nil else { return }
        try? remove(partPath)
    }
}
