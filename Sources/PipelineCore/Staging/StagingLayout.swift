import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files of one chunk.
public enum ChunkFile: String, Sendable, CaseIterable {
    /// One upstream user object per line, as received. Holds secrets: never leaves staging.
    case raw = "raw.jsonl"
    /// Valid rows, enriched, secrets removed.
    case users = "users.jsonl"
    /// Rejected rows with every reason, secrets removed.
    case dlq = "dlq.jsonl"
    /// The raw rows with secrets masked: the only form of the raw data that leaves staging.
    case rawMasked = "raw.masked.jsonl"
}

/// Where each staged file of a run lives under `DATA_DIR` (docs/STAGING.md).
public struct StagingLayout: Sendable, Equatable {
    public var dataDirectory: String

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    public var runsDirectory: String { "\(dataDirectory)/runs" }
    public func runDirectory(_ run: RunID) -> String { "\(runsDirectory)/\(run)" }
    /// A whole run's files, named as a chunk's (``ChunkFile`` says what each holds).
    private func runFile(_ run: RunID, _ file: ChunkFile) -> String { "\(runDirectory(run))/\(file.rawValue)" }
    public func rawFile(_ run: RunID) -> String { runFile(run, .raw) }
    public func usersFile(_ run: RunID) -> String { runFile(run, .users) }
    public func dlqFile(_ run: RunID) -> String { runFile(run, .dlq) }
    public func rawMaskedFile(_ run: RunID) -> String { runFile(run, .rawMasked) }

    /// A chunk's folder: `runs/<run_id>/chunks/<nnnnnn>/`, holding the chunk's `raw.jsonl` (the
    /// extractor's) and its `users.jsonl`, `dlq.jsonl`, `raw.masked.jsonl` (the transformer's).
    public func chunkDirectory(_ run: RunID, _ index: Int) -> String { "\(runDirectory(run))/chunks/\(ChunkName.number(index))" }
    public func chunkFile(_ run: RunID, _ index: Int, _ file: ChunkFile) -> String { "\(chunkDirectory(run, index))/\(file.rawValue)" }

    /// Run ids that have a directory under `runs/`, oldest first.
    public func stagedRuns() throws -> [RunID] {
        guard FileManager.default.fileExists(atPath: runsDirectory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: runsDirectory).compactMap(RunID.init(parsing:)).sorted()
    }

    /// Deletes a run's staging directory (a no-op when it is gone already).
    public func removeRun(_ run: RunID) throws {
        let directory = runDirectory(run)
        if FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Staged files hold the raw upstream data (every secret in it): they are readable by
    /// their owner only, and so are the folders this code creates for them (docs/STAGING.md,
    /// "Who can read staging"). The modes are set at creation, whatever the process umask.
    public static let fileMode: mode_t = 0o600
    public static let directoryMode: mode_t = 0o700

    /// Creates `path` and any missing parent, each new folder with ``directoryMode``. Folders
    /// that exist already keep their mode (`DATA_DIR` may be a volume set up by someone else).
    static func createDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            if mkdir(prefix, directoryMode) == 0 {
                // mkdir applies the umask; a umask that takes owner bits away must not win.
                guard chmod(prefix, directoryMode) == 0 else { throw StagingError.io(operation: "chmod", path: prefix, errno: errno) }
                continue
            }
            let code = errno
            var info = stat()
            guard code == EEXIST, stat(prefix, &info) == 0, info.st_mode & 0o170000 == 0o040000 /* S_ISDIR */ else {
                throw StagingError.io(operation: "create directory", path: prefix, errno: code == EEXIST ? ENOTDIR : code)
            }
        }
    }
}
