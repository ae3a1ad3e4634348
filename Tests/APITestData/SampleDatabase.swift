import Foundation
import GRDB
import PipelineCore
import PipelineDatabase
import SaverCore

/// Writes ``SampleRun``s into a database with the saver's own code: each run's staged files are
/// written to a scratch staging directory and loaded by `SaverStore` (the transactions the
/// `Saver` runs, docs/ARCHITECTURE.md, "Tables") in the saver's order — raw rows, users, DLQ rows — then the run
/// row with its events, on a database opened by `PipelineDatabase.openWriter`.
public enum SampleDatabase {
    /// Creates (or adds to) the database at `path` and closes it again, keeping `-wal`/`-shm`.
    public static func write(_ runs: [SampleRun], to path: String) async throws {
        let staging = NSTemporaryDirectory() + "api-sample-staging-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let layout = StagingLayout(dataDirectory: staging)
        let pool = try PipelineDatabase.openWriter(path: path)
        let store = SaverStore(database: pool)
        for run in runs {
            try await load(run, into: store, layout: layout)
        }
        // The store checkpoints in the background after each transaction: wait for the last one,
        // or it may write data.db after this returns (and after a test took its "before").
        store.checkpointer.waitForIdle()
        try pool.close()
    }

    /// The generator's default runs (see ``SampleRunGenerator``), written to `path`.
    @discardableResult
    public static func write(runCount: Int, usersPerRun: Int = 12, seed: UInt64 = 42, to path: String) async throws -> [SampleRun] {
        let runs = SampleRunGenerator(seed: seed, usersPerRun: usersPerRun).runs(count: runCount)
        try await write(runs, to: path)
        return runs
    }

    static func load(_ run: SampleRun, into store: SaverStore, layout: StagingLayout) async throws {
        let savedAt = Timestamp.format(run.finishedAt ?? run.startedAt)
        // The saver loads a run's rows only once the transformer has staged them; a run that
        // failed before that has its row (mirrored from the ledger) and events only.
        if !run.rawMaskedLines.isEmpty {
            try FileManager.default.createDirectory(atPath: layout.runDirectory(run.runID), withIntermediateDirectories: true)
            try lines(run.rawMaskedLines).write(toFile: layout.rawMaskedFile(run.runID), atomically: true, encoding: .utf8)
            try lines(run.userLines).write(toFile: layout.usersFile(run.runID), atomically: true, encoding: .utf8)
            try lines(run.dlqLines).write(toFile: layout.dlqFile(run.runID), atomically: true, encoding: .utf8)
            // One chunk holding the whole run.
            let lines = 1...max(1, run.rawMaskedLines.count)
            _ = try await store.replaceRawRows(run: run.runID, lines: lines, file: try StagedFile.describe(path: layout.rawMaskedFile(run.runID)), insertedAt: savedAt)
            _ = try await store.upsertUsers(run: run.runID, file: try StagedFile.describe(path: layout.usersFile(run.runID)), at: savedAt)
            _ = try await store.replaceDLQRows(run: run.runID, lines: lines, file: try StagedFile.describe(path: layout.dlqFile(run.runID)), insertedAt: savedAt)
        }
        let row = EtlRun(
            runID: run.runID.rawValue, status: run.status.rawValue, failedPhase: run.failedPhase?.rawValue, error: run.error,
            startedAt: Timestamp.format(run.startedAt), finishedAt: run.finishedAt.map(Timestamp.format), durationMs: run.durationMS,
            extracted: run.counts.extracted, valid: run.counts.valid, invalid: run.counts.invalid, loaded: run.counts.loaded,
            unknownDepartment: run.counts.unknownDepartment, stagedFiles: JSONText.encode(run.stagedFiles),
            remoteFiles: JSONText.encode(run.remoteFiles.map { StagedFile(path: "upload/\($0.name)", rows: $0.rows, bytes: $0.bytes, sha256: $0.sha256) }),
            updatedAt: savedAt)
        let events = run.events.map {
            EtlRunEvent(runID: run.runID.rawValue, at: Timestamp.format($0.at), stage: $0.stage, event: $0.event, detail: $0.detail)
        }
        try await store.writeRun(row, events: events, overwriteCompleted: true)
    }

    private static func lines(_ lines: [String]) -> String {
        lines.map { $0 + "\n" }.joined()
    }
}
