#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin, errno-checked wrappers over the POSIX calls staging relies on: `write(2)` loops
/// until everything is written, `fsync(2)` makes it durable.
public enum FileDescriptorIO {
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String = "fd") throws {
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw StagingError.io(operation: "write", path: path, errno: errno)
            }
            offset += written
        }
    }

    public static func sync(_ fd: Int32, path: String) throws {
        if fsync(fd) != 0 { throw StagingError.io(operation: "fsync", path: path, errno: errno) }
    }

    /// Makes a rename or creation inside `directory` durable.
    public static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw StagingError.io(operation: "open directory", path: directory, errno: errno) }
        defer { close(fd) }
        try sync(fd, path: directory)
    }

    public static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// A failure reading or writing a staged file, naming the operation, the path and the OS's reason.
public enum StagingError: Error, Equatable, CustomStringConvertible {
    case io(operation: String, path: String, errno: Int32)
    case missing(path: String)
    case corrupt(path: String, reason: String)
    case lineTooLong(path: String, line: Int, limit: Int)

    public var description: String {
        switch self {
        case .io(let operation, let path, let code):
            "\(operation) \(path): \(FileDescriptorIO.errorText(code))"
        case .missing(let path):
            "staged file \(path) does not exist"
        case .corrupt(let path, let reason):
            "staged file \(path) is not what the ledger recorded: \(reason)"
        case .lineTooLong(let path, let line, let limit):
            "\(path) line \(line) is longer than \(limit) bytes"
        }
    }
}
