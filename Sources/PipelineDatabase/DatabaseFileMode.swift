import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who may read the SQLite file the saver writes (`DB_FILE_MODE`): it holds every user's data.
///
/// `0600` (the default): the saver's user only, which is enough when the API runs as the same
/// user (docker compose runs every stage as uid 10001). `0640`: the group may read it too, for
/// an API that runs as another user of the saver's group. The mode is set when the file is
/// created, whatever the process umask, and applied again to an existing file (and its `-wal`
/// and `-shm`) each time the saver opens it; SQLite creates `-wal` and `-shm` with the
/// database file's mode.
public enum DatabaseFileMode: String, Sendable, CaseIterable {
    case ownerOnly = "0600"
    case groupReadable = "0640"

    public static let `default` = DatabaseFileMode.ownerOnly

    /// The permission bits of the database file and its `-wal` and `-shm`.
    public var fileMode: mode_t { self == .ownerOnly ? 0o600 : 0o640 }
    /// The permission bits of the database's folder, when the saver creates it.
    public var directoryMode: mode_t { self == .ownerOnly ? 0o700 : 0o750 }

    /// Creates the folder of `path` if missing (the last level with ``directoryMode``), creates
    /// an empty database file with ``fileMode`` if missing, and sets ``fileMode`` on the file,
    /// its `-wal` and `-shm` where they exist and belong to this process's user. Returns whether
    /// it created the file.
    @discardableResult
    func prepare(path: String) throws -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Self.check(chmod(directory, directoryMode), "chmod", directory)
        }
        var created = false
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, fileMode)
        if fd >= 0 {
            defer { close(fd) }
            created = true
            try Self.check(fchmod(fd, fileMode), "chmod", path)
        } else if errno != EEXIST {
            try Self.check(-1, "create", path)
        }
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            guard stat(file, &info) == 0, info.st_uid == geteuid(), info.st_mode & 0o777 != fileMode else { continue }
            try Self.check(chmod(file, fileMode), "chmod", file)
        }
        return created
    }

    private static func check(_ result: Int32, _ operation: String, _ path: String) throws {
        guard result != 0 else { return }
        let code = errno
        throw DatabaseFileError(operation: operation, path: path, reason: String(cString: strerror(code)))
    }
}

/// The database file or its folder could not be created or given its mode.
public struct DatabaseFileError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var path: String
    public var reason: String
    public var description: String { "\(operation) \(path): \(reason)" }
}
