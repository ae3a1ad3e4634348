import Foundation
import GRDB
import Logging
import PipelineCore
import PipelineDatabase
import PipelineRedis
import PipelineRuntime
import PipelineSFTP
import ServiceLifecycle

/// The saver stage (DESIGN.md §6, §7): loads each transformed run into SQLite, uploads its
/// files over SFTP, and records every run in `etl_runs`.
///
/// ``services()`` are what the executable runs: the ``PhaseWorker`` of phase `save` (wakes on
/// `channel:phase2_complete`, reconciles, claims, records the outcome in the ledger and
/// publishes `channel:phase3_complete` or `channel:run_failed`) with ``save(_:logger:)`` as
/// its work, and the ``RunRecorder`` that mirrors failed and unfinished runs into `etl_runs`
/// and prunes staging.
public struct Saver: Sendable {
    public let settings: SaverSettings
    public let store: SaverStore
    public let redis: RedisClient
    public let logger: Logger
    public let hooks: SaverHooks
    public let uploader: RunUploader

    public init(settings: SaverSettings, database: DatabasePool, redis: RedisClient, logger: Logger, hooks: SaverHooks = .none) {
        self.settings = settings
        self.store = SaverStore(database: database)
        self.redis = redis
        self.logger = logger
        self.hooks = hooks
        self.uploader = RunUploader(
            configuration: settings.sftp, remoteDirectory: settings.remoteDirectory, retry: settings.retry,
            progress: hooks.uploadProgress)
    }

    var ledger: RunLedger { RunLedger(redis: redis) }
    var layout: StagingLayout { settings.staging.layout }

    /// Opens (creating and migrating) the database at `path` on a thread of its own, for loads
    /// checkpointed in the background by ``SaverStore``'s ``WALCheckpointer``.
    /// The file, its `-wal` and `-shm` get `fileMode` (`DB_FILE_MODE`).
    public static func openDatabase(path: String, fileMode: DatabaseFileMode = .default) async throws -> DatabasePool {
        try await BlockingIO.run {
            try PipelineDatabase.createIfMissing(path: path, fileMode: fileMode)
            let pool = try PipelineDatabase.openWriter(path: path, fileMode: fileMode)
            try PipelineDatabase.checkpointInBackground(pool)
            return pool
        }
    }

    /// The worker and the recorder, to run side by side in a `ServiceGroup`.
    public func services() -> [any Service] {
        [phaseWorker(), recorder()]
    }

    /// The reconcile/claim/signal loop of phase `save`, claiming runs for `CLAIM_TTL_SECONDS`.
    public func phaseWorker() -> PhaseWorker {
        PhaseWorker(
            phase: .save, redis: redis, redisURL: settings.redisURL, claims: RunClaims(redis: redis, instance: settings.instanceID, ttl: settings.claimTTL),
            reconcileInterval: settings.reconcileInterval, logger: logger
        ) { [self] run, runLogger in
            try await save(run, logger: runLogger)
        }
    }

    public func recorder() -> RunRecorder {
        RunRecorder(
            redis: redis, redisURL: settings.redisURL, store: store, layout: layout, keepRuns: settings.staging.keepRuns,
            interval: settings.reconcileInterval, logger: logger)
    }

    /// The names a run's files get on the server, in upload order (the manifest last).
    public static func remoteNames(_ run: RunID) -> (raw: String, users: String, dlq: String, manifest: String) {
        ("\(run)_raw.jsonl", "\(run)_users.jsonl", "\(run)_dlq.jsonl", "\(run)_manifest.json")
    }

    /// Saves one run: checks the staged files against the ledger, loads them in three
    /// transactions (raw rows, users, DLQ rows), uploads the three files and the manifest, then
    /// writes the `completed` run row with its events. Every step is idempotent, so a run
    /// interrupted anywhere is simply saved again.
    ///
    /// Rows carry the save's start time from the ledger (`save_started_at`, kept across
    /// attempts) as `inserted_at`/`updated_at`, so saving a run again writes identical rows.
    ///
    /// - Returns: the remote files and the counts `raw`, `loaded`, `dlq` for the ledger.
    public func save(_ run: RunRecord, logger: Logger) async throws -> PhaseOutput {
        let clock = ContinuousClock()
        let started = clock.now
        // Re-read: the worker began the phase after reading `run`, which set save_started_at.
        let record = try await ledger.run(run.id) ?? run
        let savedAt = Timestamp.format(record.phaseStartedAt[.save] ?? Date())
        let staged = try StagedRun.locate(record, layout: layout)
        try await staged.verify()
        logger.info("staged files match the ledger", metadata: [
            "raw": "\(staged.rawMasked.rows)", "users": "\(staged.users.rows)", "dlq": "\(staged.dlq.rows)",
        ])
        // The ledger's history up to this save; a save_finished_at left by an earlier save of
        // the same run is not part of it (this save adds its own "completed").
        var events = RunHistory.events(of: record).filter { !($0.stage == Phase.save.rawValue && $0.event == "completed") }

        // The three files go to the SFTP server while the database loads them: the loads are
        // bound by SQLite on one thread, the uploads by encryption and the network, so side by
        // side they take about as long as the loads alone. The manifest (which carries the
        // loaded counts) follows on the same connection only once both are done, so seeing it
        // still means every file is complete and the rows are in; and the loads finish even
        // when the upload fails, as before (its error is only awaited after them).
        let names = Self.remoteNames(run.id)
        let items = [
            RunUploader.Item(name: names.raw, local: staged.rawMasked),
            RunUploader.Item(name: names.users, local: staged.users),
            RunUploader.Item(name: names.dlq, local: staged.dlq),
        ]
        let (manifests, manifestReady) = AsyncThrowingStream.makeStream(of: RunUploader.Item.self)
        defer { manifestReady.finish() }
        async let uploading = uploader.upload(items, last: {
            // Ends (nil) when this save is cancelled or fails before the manifest exists.
            for try await manifest in manifests { return manifest }
            throw CancellationError()
        }, logger: logger)

        let raw = try await store.replaceRawRows(run: run.id, from: staged.rawMasked.path, insertedAt: savedAt)
        log(raw, table: "raw_users", logger: logger, &events)
        try await pause(after: .raw, logger: logger)

        let users = try await store.upsertUsers(run: run.id, from: staged.users.path, at: savedAt)
        let changed = try await store.usersChanged(by: run.id)
        log(users, table: "users", extra: ["changed_by_run": "\(changed)"], logger: logger, &events)
        try await pause(after: .users, logger: logger)

        let dlq = try await store.replaceDLQRows(run: run.id, from: staged.dlq.path, insertedAt: savedAt)
        log(dlq, table: "dlq_records", logger: logger, &events)
        try await pause(after: .dlq, logger: logger)

        let counts = ["raw": raw.rows, "loaded": users.rows, "dlq": dlq.rows]
        let manifest = try await RunManifest(record: record, files: items, counts: counts).write(to: layout.runDirectory(run.id))
        manifestReady.yield(RunUploader.Item(name: names.manifest, local: manifest))
        manifestReady.finish()
        let outcomes = try await uploading
        for outcome in outcomes {
            events.append(RunEvent(at: Timestamp.format(Date()), stage: Phase.save.rawValue, event: "uploaded",
                                   detail: "\(outcome.remote.path) bytes=\(outcome.remote.bytes) sha256=\(outcome.remote.sha256)"))
        }
        try await pause(after: .upload, logger: logger)

        let finished = Date()
        events.append(RunEvent(at: Timestamp.format(finished), stage: Phase.save.rawValue, event: "completed",
                               detail: RunHistory.describe(counts)))
        let row = RunRow(
            runID: run.id.rawValue, status: RunStatus.completed.rawValue, startedAt: Timestamp.format(record.startedAt),
            finishedAt: Timestamp.format(finished), durationMs: RunHistory.milliseconds(from: record.startedAt, to: finished),
            extracted: record.counts[.extract]?["extracted"], valid: record.counts[.transform]?["valid"],
            invalid: record.counts[.transform]?["invalid"], loaded: users.rows,
            unknownDepartment: record.counts[.transform]?["unknown_department"],
            stagedFiles: JSONText.encode(RunHistory.stagedFiles(of: record)),
            remoteFiles: JSONText.encode(outcomes.map(\.remote)), updatedAt: Timestamp.format(finished))
        let runWrite = clock.now
        try await store.writeRun(row, events: events, overwriteCompleted: true)
        logger.info("etl_runs row written", metadata: [
            "status": "completed", "events": "\(events.count)", "ms": "\(Self.ms(runWrite.duration(to: clock.now)))",
        ])
        mergeWAL(logger: logger)

        let uploaded = outcomes.filter(\.uploaded)
        logger.info("run saved", metadata: [
            "raw": "\(raw.rows)", "loaded": "\(users.rows)", "dlq": "\(dlq.rows)", "users_changed": "\(changed)",
            "uploaded": "\(uploaded.count)", "skipped": "\(outcomes.count - uploaded.count)",
            "bytes_uploaded": "\(uploaded.reduce(0) { $0 + $1.remote.bytes })",
            "destination": "\(uploader.destination)", "ms": "\(Self.ms(started.duration(to: clock.now)))",
        ])
        return PhaseOutput(files: outcomes.map(\.remote), counts: counts)
    }

    /// Merges the WAL into `data.db` once the run is in, so the file alone holds every committed
    /// row (a copy of it without its `-wal` is complete). In the background: at 100,000 users
    /// the merge takes about 0.3 s, which the run's completion need not wait for; the saver waits
    /// for it when it stops. Best effort: a reader that holds the merge back past the retries
    /// leaves the frames for the next run's merge, and nothing is lost.
    private func mergeWAL(logger: Logger) {
        store.checkpointer.requestMerge { merged, elapsed in
            let ms = "\(Self.ms(elapsed))"
            if merged {
                logger.info("WAL merged into the database file", metadata: ["ms": "\(ms)"])
            } else {
                logger.warning("WAL not merged: readers held it back; the next run's save merges it", metadata: ["ms": "\(ms)"])
            }
        }
    }

    private func log(_ loaded: SaverStore.Loaded, table: String, extra: Logger.Metadata = [:], logger: Logger, _ events: inout [RunEvent]) {
        var metadata: Logger.Metadata = [
            "table": "\(table)", "rows": "\(loaded.rows)", "ms": "\(Self.ms(loaded.elapsed))", "rows_s": "\(loaded.rowsPerSecond)",
        ]
        metadata.merge(extra) { $1 }
        logger.info("transaction committed", metadata: metadata)
        events.append(RunEvent(at: Timestamp.format(Date()), stage: Phase.save.rawValue, event: "\(table) written", detail: "rows=\(loaded.rows)"))
    }

    /// The test-only pause of ``SaverHooks/pauseAfter``.
    private func pause(after step: SaveStep, logger: Logger) async throws {
        guard hooks.pauseAfter == step else { return }
        logger.warning("test hook: pausing after \(step.rawValue)", metadata: ["seconds": "\(Int(hooks.pauseDuration.seconds))"])
        try await Task.sleep(for: hooks.pauseDuration)
    }

    static func ms(_ duration: Duration) -> Int { Int(duration.seconds * 1000) }
}

/// `<run_id>_manifest.json`: what a consumer needs to trust the run's other files, uploaded
/// last so that seeing it means the rest is complete. Built only from facts fixed once the run
/// is transformed, so saving a run again writes the same bytes (and skips the upload).
struct RunManifest: Encodable {
    struct File: Encodable {
        var name: String
        var rows: Int
        var bytes: Int
        var sha256: String
    }

    var runID: String
    var status: String
    var startedAt: String
    /// The extraction's finish time, as the rows' `extracted_at`.
    var extractedAt: String?
    /// The transform's start time, as the rows' `transformed_at`.
    var transformedAt: String?
    var files: [File]
    var counts: [String: Int]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", status, startedAt = "started_at", extractedAt = "extracted_at"
        case transformedAt = "transformed_at", files, counts
    }

    init(record: RunRecord, files: [RunUploader.Item], counts: [String: Int]) {
        runID = record.id.rawValue
        status = RunStatus.completed.rawValue
        startedAt = Timestamp.format(record.startedAt)
        extractedAt = record.phaseFinishedAt[.extract].map(Timestamp.format)
        transformedAt = record.phaseStartedAt[.transform].map(Timestamp.format)
        self.files = files.map { File(name: $0.name, rows: $0.local.rows, bytes: $0.local.bytes, sha256: $0.local.sha256) }
        var all = record.counts[.extract] ?? [:]
        all.merge(record.counts[.transform] ?? [:]) { $1 }
        all.merge(counts) { $1 }
        self.counts = all
    }

    /// Compact JSON with sorted keys and a final newline, so one line.
    var bytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try! encoder.encode(self)) + [0x0A]
    }

    /// Writes `manifest.json` into the run's staging directory (`.part`, fsync, rename).
    func write(to directory: String) async throws -> StagedFile {
        let bytes = self.bytes
        return try await BlockingIO.run {
            let writer = try StagedFileWriter(path: "\(directory)/manifest.json")
            do {
                try writer.appendLine(bytes.dropLast())
                return try writer.commit()
            } catch {
                writer.abandon()
                throw error
            }
        }
    }
}
