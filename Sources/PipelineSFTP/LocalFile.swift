import Glibc

/// A local file read for an upload, with errors that say which file and why. Plain POSIX
/// calls: they run on the connection's queue next to libssh2's.
final class LocalFile {
    let path: String
    private let fd: Int32
    /// Size when opened.
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
        close(fd)
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

    /// Reads up to `count` bytes; 0 at end of file.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(SFTPError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer, count)
            if n >= 0 { return n }
            if errno != EINTR {
                throw Self.error(endpoint, operation, remotePath, "cannot read local file \(path): \(describeErrno(errno))", errno)
            }
        }
    }

    private static func error(_ endpoint: String, _ operation: String, _ remotePath: String, _ detail: String, _ code: Int32?) -> SFTPError {
        SFTPError(kind: .localFile, endpoint: endpoint, operation: operation, path: remotePath, detail: detail, posixErrno: code)
    }
}
