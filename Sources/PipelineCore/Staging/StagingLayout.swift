import Foundation

/// Where each staged file of a run lives under `DATA_DIR` (DESIGN.md §3).
public struct StagingLayout: Sendable, Equatable {
    public var dataDirectory: String

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    public var runsDirectory: String { "\(dataDirectory)/runs" }
    public func runDirectory(_ run: RunID) -> String { "\(runsDirectory)/\(run)" }
    /// One upstream user object per line, as received. Holds secrets: never leaves staging.
    public func rawFile(_ run: RunID) -> String { "\(runDirectory(run))/raw.jsonl" }
    /// Valid rows, enriched, secrets removed.
    public func usersFile(_ run: RunID) -> String { "\(runDirectory(run))/users.jsonl" }
    /// Rejected rows with every reason, secrets removed.
    public func dlqFile(_ run: RunID) -> String { "\(runDirectory(run))/dlq.jsonl" }
    /// The raw rows with secrets masked: the only form of the raw data that leaves staging.
    public func rawMaskedFile(_ run: RunID) -> String { "\(runDirectory(run))/raw.masked.jsonl" }

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

    static func createDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw StagingError.io(operation: "create directory", path: path, errno: (error as NSError).code == 0 ? EIO : Int32((error as NSError).code))
        }
    }
}
