import Glibc

/// A local file read for an upload or written by a download, with errors that say which
/// file and why. Plain POSIX calls: they run on the connection's queue next to libssh2's.
final class LocalFile {
    let path: String
    private var fd: Int32
    /// Size when opened (for reading).
    let size: Int64
    private let endpoint: String
    private let operation: String
    private let remotePath: String

    private init(path: String, fd: Int32, size: Int64, endpoint: String, operation: String, remotePath: String) {
        self.path = path
        self.fd = fd
        self.size = size
        self.endpoint = endpoint
        self.operation = operation
        self.remotePath = remotePath
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    static func openForReading(_ path: String, endpoint: String, operation: String, remotePath: String) throws(SFTPError) -> LocalFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw error(endpoint, operation, remotePath, "cannot open local file \(path): \(describeErrno(errno))", errno)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw error(endpoint, operation, remotePath, "cannot stat local file \(path): \(describeErrno(code))", code)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw error(endpoint, operation, remotePath, "local path \(path) is not a regular file", nil)
        }
        return LocalFile(path: path, fd: fd, size: Int64(info.st_size), endpoint: endpoint, operation: operation, remotePath: remotePath)
    }

    static func openForWriting(_ path: String, endpoint: String, remotePath: String) throws(SFTPError) -> LocalFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw error(endpoint, "download", remotePath, "cannot create local file \(path): \(describeErrno(errno))", errno)
        }
        return LocalFile(path: path, fd: fd, size: 0, endpoint: endpoint, operation: "download", remotePath: remotePath)
    }

    /// Reads up to `count` bytes; 0 at end of file.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(SFTPError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer, count)
            if n >= 0 { return n }
            if errno != EINTR { throw failure("cannot read local file \(path): \(describeErrno(errno))", errno) }
        }
    }

    /// Writes all of `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(SFTPError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write local file \(path): \(describeErrno(errno))", errno)
            }
            offset += n
        }
    }

    /// Flushes to disk, so the renamed file survives a crash.
    func synchronize() throws(SFTPError) {
        if fsync(fd) != 0 { throw failure("cannot flush local file \(path): \(describeErrno(errno))", errno) }
    }

    /// Closes the file and renames it into place.
    func rename(to destination: String) throws(SFTPError) {
        let closed = close(fd)
        fd = -1
        if closed != 0 { throw failure("cannot close local file \(path): \(describeErrno(errno))", errno) }
        if Glibc.rename(path, destination) != 0 {
            let code = errno
            unlink(path)
            throw failure("cannot rename local file \(path) to \(destination): \(describeErrno(code))", code)
        }
    }

    /// Abandons a partly written file.
    func closeAndRemove() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(path)
    }

    private func failure(_ detail: String, _ code: Int32?) -> SFTPError {
        Self.error(endpoint, operation, remotePath, detail, code)
    }

    private static func error(_ endpoint: String, _ operation: String, _ remotePath: String, _ detail: String, _ code: Int32?) -> SFTPError {
        SFTPError(kind: .localFile, endpoint: endpoint, operation: operation, path: remotePath, detail: detail, posixErrno: code)
    }
}
