import Foundation
import GRDB
import Logging
import PipelineCore
import PipelineDatabase
import PipelineRedis
import PipelineRuntime
import PipelineSFTP
import ServiceLifecycle

/// The saver stage (docs/STAGING.md): loads each transformed chunk of a run into SQLite, in
/// order, grows the run's files on the SFTP server with it, and records every run in `etl_runs`.
///
/// ``services()`` are what the executable runs: the ``PhaseWorker`` of phase `save` with
/// ``save(_:logger:)`` as its in-order work (woken by `channel:chunk_transformed` and
/// `channel:phase2_complete`), and the ``RunRecorder`` that mirrors failed and unfinished runs
/// into `etl_runs` and prunes staging.
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

    /// The phase worker and the recorder, to run side by side in a `ServiceGroup`.
    public func services() -> [any Service] {
        let worker = PhaseWorker(
            phase: .save, redis: redis, redisURL: settings.redisURL, claims: RunClaims(redis: redis, instance: settings.instanceID, ttl: settings.claimTTL),
            reconcileInterval: settings.reconcileInterval, logger: logger,
            work: .inOrder { [self] run, runLogger in try await save(run, logger: runLogger) })
        return [worker, recorder()]
    }

    public func recorder() -> RunRecorder {
        RunRecorder(
            redis: redis, redisURL: settings.redisURL, store: store, layout: layout, keepRuns: settings.staging.keepRuns,
            interval: settings.reconcileInterval, logger: logger)
    }

    /// The names a run's files get on the server, in upload order (the manifest last); the
    /// three data files end in `.age` when they are uploaded encrypted.
    public static func remoteNames(_ run: RunID, encrypted: Bool = false) -> (raw: String, users: String, dlq: String, manifest: String) {
        (RemoteFile.raw.name(run, encrypted: encrypted), RemoteFile.users.name(run, encrypted: encrypted),
         RemoteFile.dlq.name(run, encrypted: encrypted), "\(run)_manifest.json")
    }

    /// The name `file` of `run` gets on the server with this saver's settings.
    func remoteName(_ file: RemoteFile, _ run: RunID) -> String {
        file.name(run, encrypted: settings.encryption != nil)
    }

    /// How long a save of encrypted files waits for the run's next chunk before it hands the run
    /// back (and the next save starts the files again).
    static let encryptedWaitLimit: Duration = .seconds(600)

    /// Saves the run's ready chunks in order, from the first without a save record, and finishes
    /// the run once its last chunk is saved: docs/STAGING.md, "What the saver records", says
    /// what each step writes and how an interrupted save resumes.
    ///
    /// With encryption on, each file goes through its own age stream (``EncryptedRun``), which
    /// lives only as long as this call: the call keeps the run while its chunks are still coming
    /// (``waitForChunk(_:of:logger:)``) instead of handing it back between them.
    ///
    /// Rows carry the save's start time from the ledger (`save_started_at`, kept across
    /// attempts and chunks) as `inserted_at`/`updated_at`, so saving a chunk again writes
    /// identical rows.
    ///
    /// - Returns: the remote files and the counts `raw`, `loaded`, `dlq` for the ledger once
    ///   the run is saved; `nil` while chunks are still to come (the worker calls again on
    ///   `chunk_transformed` or `phase2_complete`).
    public func save(_ run: RunRecord, logger: Logger) async throws -> PhaseOutput? {
        let clock = ContinuousClock()
        let started = clock.now
        // Re-read: the worker began the phase after reading `run`, which set save_started_at.
        var record = try await ledger.run(run.id) ?? run
        let savedAt = Timestamp.format(record.phaseStartedAt[.save] ?? Date())

        let encrypted = try settings.encryption.map { try EncryptedRun(run: run.id, layout: layout, encryption: $0) }
        defer { encrypted?.close() }

        // The files' running checksums and pieces over the chunks saved before this session.
        var remote = RemoteRun()
        let first = (0...).first { record.chunks.saved[$0] == nil }!
        if first > 0 {
            for index in 0..<first {
                let (staged, saved) = try locateSaved(index, record)
                remote = try await BlockingIO.run { [remote] in
                    try remote.continued(over: staged, saved: saved, encrypted: try encrypted?.encrypt(staged))
                }
            }
            logger.info("resuming the save after the chunks already saved", metadata: [
                "chunks_saved": "\(first)", "next_chunk": "\(first)",
                "remote_bytes": "\(RemoteFile.allCases.map { "\($0.rawValue)=\(remote.end($0))" }.joined(separator: ","))",
            ].merging(encrypted == nil ? [:] : ["encrypted": "files written again from their first byte, with fresh file keys"]) { $1 })
        }
        // A resumed encrypted file holds another stream's bytes: its first write starts at byte 0.
        var rewrite = encrypted != nil && first > 0

        let session = uploader.session(logger: logger)
        do {
            var index = first
            var savedNow = 0
            while true {
                if record.chunks.transformed[index] == nil || record.chunks.sealed[index] == nil {
                    // Chunks transformed while this one was saved are saved in the same pass.
                    record = try await ledger.run(run.id) ?? record
                    if record.chunks.transformed[index] == nil || record.chunks.sealed[index] == nil {
                        guard encrypted != nil, let next = try await waitForChunk(index, of: run.id, logger: logger) else { break }
                        record = next
                        if record.chunks.transformed[index] == nil { break }
                    }
                }
                let staged = try StagedChunk.locate(run: run.id, sealed: record.chunks.sealed[index]!,
                                                    transformed: record.chunks.transformed[index]!, layout: layout)
                let saved = try await saveChunk(staged, run: run.id, savedAt: savedAt, remote: &remote, encrypted: encrypted,
                                                rewrite: rewrite, session: session, logger: logger)
                rewrite = false
                record.chunks.saved[index] = saved
                savedNow += 1
                if index == 0 { try await pause(after: .chunk, logger: logger) }
                index += 1
            }
            record = try await ledger.run(run.id) ?? record
            guard record.phaseFinishedAt[.transform] != nil, record.chunks.allDone(.save) else {
                await session.close()
                logger.info("chunks saved; the run waits for more", metadata: [
                    "saved_now": "\(savedNow)", "chunks_saved": "\(record.chunks.saved.count)",
                    "chunks_total": "\(record.chunks.total.map(String.init) ?? "unknown")",
                    "ms": "\(Self.ms(started.duration(to: clock.now)))",
                ])
                return nil
            }
            let output = try await finish(record, remote: remote, encrypted: encrypted, rewrite: rewrite, session: session, logger: logger)
            await session.close()
            logger.info("run saved", metadata: [
                "raw": "\(output.counts["raw"] ?? 0)", "loaded": "\(output.counts["loaded"] ?? 0)", "dlq": "\(output.counts["dlq"] ?? 0)",
                "chunks": "\(record.chunks.total ?? 0)", "chunks_saved_now": "\(savedNow)", "bytes_uploaded": "\(session.bytesSent)",
                "destination": "\(uploader.destination)", "ms": "\(Self.ms(started.duration(to: clock.now)))",
            ])
            return output
        } catch {
            await session.close()
            throw error
        }
    }

    /// Waits, for up to ``encryptedWaitLimit``, until chunk `index` of the run is transformed or
    /// the transform phase is complete; nil when the wait ran out or the run failed.
    private func waitForChunk(_ index: Int, of run: RunID, logger: Logger) async throws -> RunRecord? {
        let clock = ContinuousClock()
        let deadline = clock.now + Self.encryptedWaitLimit
        while clock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            guard let record = try await ledger.run(run), record.status != .failed else { return nil }
            if record.chunks.transformed[index] != nil && record.chunks.sealed[index] != nil || record.phaseFinishedAt[.transform] != nil {
                return record
            }
        }
        logger.warning("no chunk came within the wait; handing the run back (its encrypted files start again at the next save)", metadata: [
            "next_chunk": "\(index)", "waited_s": "\(Int(Self.encryptedWaitLimit.seconds))",
        ])
        return nil
    }

    /// The staged files and save record of a chunk saved earlier.
    private func locateSaved(_ index: Int, _ record: RunRecord) throws -> (StagedChunk, SavedChunk) {
        guard let sealed = record.chunks.sealed[index], let transformed = record.chunks.transformed[index],
              let saved = record.chunks.saved[index] else {
            throw SaveFailure("chunk \(index) of run \(record.id) is recorded saved but not sealed and transformed")
        }
        return (try StagedChunk.locate(run: record.id, sealed: sealed, transformed: transformed, layout: layout), saved)
    }

    /// One chunk: the three transactions and the three appends side by side, then its save
    /// record. The test hooks `raw`, `users`, `dlq` and `upload` pause after those steps of
    /// chunk 0 only.
    private func saveChunk(
        _ staged: StagedChunk, run: RunID, savedAt: String, remote: inout RemoteRun, encrypted: EncryptedRun?, rewrite: Bool,
        session: UploadSession, logger: Logger
    ) async throws -> SavedChunk {
        let clock = ContinuousClock()
        let started = clock.now
        var chunkLogger = logger
        chunkLogger[metadataKey: "chunk"] = "\(staged.index)"
        async let loading = load(staged, run: run, savedAt: savedAt, remote: remote, logger: chunkLogger)
        // The loads finish even when the appends fail: their error is thrown only after them.
        var appendFailure: (any Error)?
        var pieces: [[RunUploader.Piece]] = []
        do {
            // Encrypted, the pieces are made while the loads run; plain, they are the staged files.
            var sources: [RemoteFile: RunUploader.Source]?
            if let encrypted { sources = try await BlockingIO.run { try encrypted.encrypt(staged) } }
            pieces = RemoteFile.allCases.map { file in
                let local = staged.file(file)
                return remote.pieces(adding: sources?[file] ?? RunUploader.Source(path: local.path, bytes: local.bytes), chunk: staged.index, file)
            }
            for (file, pieces) in zip(RemoteFile.allCases, pieces) {
                try await session.write(remoteName(file, run) + ".part", pieces: pieces, from: rewrite ? 0 : pieces.count - 1)
            }
            if staged.index == 0 { try await pause(after: .upload, logger: chunkLogger) }
        } catch {
            appendFailure = error
        }
        let loaded = try await loading
        if let appendFailure { throw appendFailure }

        remote.append(staged, pieces: pieces, loaded: loaded)
        let saved = SavedChunk(
            counts: ["raw": loaded.raw.rows, "loaded": loaded.users.rows, "dlq": loaded.dlq.rows],
            remoteBytes: Dictionary(uniqueKeysWithValues: RemoteFile.allCases.map { ($0.rawValue, remote.end($0)) }))
        try await ledger.recordSaved(saved, index: staged.index, run: run)
        FreedMemory.release()
        chunkLogger.info("chunk saved", metadata: [
            "raw": "\(loaded.raw.rows)", "loaded": "\(loaded.users.rows)", "dlq": "\(loaded.dlq.rows)",
            "lines": "\(staged.lines.lowerBound)-\(staged.lines.upperBound)",
            "ms_raw": "\(Self.ms(loaded.raw.elapsed))", "ms_users": "\(Self.ms(loaded.users.elapsed))", "ms_dlq": "\(Self.ms(loaded.dlq.elapsed))",
            "ms": "\(Self.ms(started.duration(to: clock.now)))",
        ])
        return saved
    }

    /// The three transactions of a chunk, one after another, each file checked in its read.
    private func load(
        _ staged: StagedChunk, run: RunID, savedAt: String, remote: RemoteRun, logger: Logger
    ) async throws -> (raw: SaverStore.Loaded, users: SaverStore.Loaded, dlq: SaverStore.Loaded) {
        // The previous chunk's frames are copied into the database file before this chunk
        // writes (while its appends are already under way), so its first transaction starts the
        // WAL over: the WAL stays about a chunk long instead of growing with the run. A long WAL
        // is slower to read through and its index is mapped into this process: at 1,000,000
        // users that made the saver's run 54.7 s instead of 46.9 s and its peak RSS 71 MiB.
        let checkpointer = store.checkpointer
        _ = try await BlockingIO.run { checkpointer.waitForIdle() }
        let raw = try await store.replaceRawRows(run: run, lines: staged.lines, file: staged.rawMasked, whole: remote.hash(.raw), insertedAt: savedAt)
        log(raw, table: RawUser.databaseTableName, logger: logger)
        if staged.index == 0 { try await pause(after: .raw, logger: logger) }
        let users = try await store.upsertUsers(run: run, file: staged.users, whole: remote.hash(.users), at: savedAt)
        log(users, table: User.databaseTableName, logger: logger)
        if staged.index == 0 { try await pause(after: .users, logger: logger) }
        let dlq = try await store.replaceDLQRows(run: run, lines: staged.lines, file: staged.dlq, whole: remote.hash(.dlq), insertedAt: savedAt)
        log(dlq, table: DLQRecord.databaseTableName, logger: logger)
        if staged.index == 0 { try await pause(after: .dlq, logger: logger) }
        return (raw, users, dlq)
    }

    /// Every chunk is saved and the transform phase complete: the `.part` files are renamed,
    /// the manifest uploaded, the `completed` run row written.
    private func finish(
        _ record: RunRecord, remote: RemoteRun, encrypted: EncryptedRun?, rewrite: Bool, session: UploadSession, logger: Logger
    ) async throws -> PhaseOutput {
        let clock = ContinuousClock()
        let run = record.id
        let chunks = (0..<(record.chunks.total ?? 0)).compactMap { record.chunks.saved[$0] }
        var counts: [String: Int] = [:]
        for chunk in chunks {
            for key in ["raw", "loaded", "dlq"] { counts[key, default: 0] += chunk.counts[key] ?? 0 }
        }
        var events = RunHistory.events(of: record).filter { !($0.stage == Phase.save.rawValue && $0.event == "completed") }
        let changed = try await store.usersChanged(by: run)
        for (table, key) in [(RawUser.databaseTableName, "raw"), (User.databaseTableName, "loaded"), (DLQRecord.databaseTableName, "dlq")] {
            events.append(EtlRunEvent(runID: run.rawValue, at: Timestamp.format(Date()), stage: Phase.save.rawValue, event: "\(table) written",
                                      detail: "rows=\(counts[key] ?? 0)"))
        }

        var remote = remote
        if let encrypted {
            // The streams' last bytes; a resumed session that saved no chunk writes the files whole.
            let ends = try await BlockingIO.run { try encrypted.finish() }
            for file in RemoteFile.allCases {
                remote.appendEnd(ends[file]!, file, chunk: record.chunks.total ?? 0)
                let pieces = remote.pieces[file] ?? []
                try await session.write(remoteName(file, run) + ".part", pieces: pieces, from: rewrite ? 0 : pieces.count - 1)
            }
        }
        var items: [RunUploader.Item] = []
        for file in RemoteFile.allCases {
            let name = remoteName(file, run)
            var item = RunUploader.Item(name: name, local: remote.whole(file))
            item.ciphertext = encrypted?.ciphertext(file)
            // An encrypted file renamed by an earlier session is another stream's: never kept.
            if try await session.finish(name + ".part", final: name, pieces: remote.pieces[file] ?? [], keepRenamed: encrypted == nil) {
                logger.info("uploaded", metadata: [
                    "file": "\(uploader.remotePath(name))", "bytes": "\(item.sent.bytes)", "rows": "\(item.local.rows)",
                    "chunks": "\(record.chunks.total ?? 0)",
                ].merging(encrypted == nil ? [:] : ["plaintext_bytes": "\(item.local.bytes)"]) { $1 })
            }
            items.append(item)
        }
        let manifest = try await RunManifest(record: record, files: items, counts: counts, encryption: settings.encryption)
            .write(to: layout.runDirectory(run))
        let manifestItem = RunUploader.Item(name: Self.remoteNames(run).manifest, local: manifest)
        let sent = try await session.upload(manifestItem)
        logger.info("uploaded", metadata: [
            "file": "\(uploader.remotePath(manifestItem.name))", "bytes": "\(sent.bytes)", "rows": "\(manifest.rows)",
            "ms": "\(Int(sent.elapsed.seconds * 1000))",
        ])
        // What the server holds: for an encrypted file, its ciphertext.
        let remoteFiles = (items + [manifestItem]).map {
            StagedFile(path: uploader.remotePath($0.name), rows: $0.local.rows, bytes: $0.sent.bytes, sha256: $0.sent.sha256)
        }
        for file in remoteFiles {
            events.append(EtlRunEvent(runID: run.rawValue, at: Timestamp.format(Date()), stage: Phase.save.rawValue, event: "uploaded",
                                      detail: "\(file.path) bytes=\(file.bytes) sha256=\(file.sha256)"))
        }

        let finished = Date()
        events.append(EtlRunEvent(runID: run.rawValue, at: Timestamp.format(finished), stage: Phase.save.rawValue, event: "completed",
                                  detail: RunHistory.describe(counts)))
        let row = EtlRun(
            runID: run.rawValue, status: RunStatus.completed.rawValue, startedAt: Timestamp.format(record.startedAt),
            finishedAt: Timestamp.format(finished), durationMs: RunHistory.milliseconds(from: record.startedAt, to: finished),
            extracted: record.counts[.extract]?["extracted"], valid: record.counts[.transform]?["valid"],
            invalid: record.counts[.transform]?["invalid"], loaded: counts["loaded"],
            unknownDepartment: record.counts[.transform]?["unknown_department"],
            stagedFiles: JSONText.encode(RunHistory.stagedFiles(of: record)),
            remoteFiles: JSONText.encode(remoteFiles), updatedAt: Timestamp.format(finished))
        let runWrite = clock.now
        try await store.writeRun(row, events: events, overwriteCompleted: true)
        logger.info("etl_runs row written", metadata: [
            "status": "completed", "events": "\(events.count)", "users_changed": "\(changed)",
            "ms": "\(Self.ms(runWrite.duration(to: clock.now)))",
        ])
        mergeWAL(logger: logger)
        return PhaseOutput(files: remoteFiles, counts: counts)
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

    private func log(_ loaded: SaverStore.Loaded, table: String, logger: Logger) {
        logger.debug("transaction committed", metadata: [
            "table": "\(table)", "rows": "\(loaded.rows)", "ms": "\(Self.ms(loaded.elapsed))", "rows_s": "\(loaded.rowsPerSecond)",
        ])
    }

    /// The test-only pause of ``SaverHooks/pauseAfter``; nothing in a release build.
    private func pause(after step: SaveStep, logger: Logger) async throws {
        #if SAVER_TEST_HOOKS
        guard hooks.pauseAfter == step else { return }
        logger.warning("test hook: pausing after \(step.rawValue)", metadata: ["seconds": "\(Int(hooks.pauseDuration.seconds))"])
        try await Task.sleep(for: hooks.pauseDuration)
        #endif
    }

    static func ms(_ duration: Duration) -> Int { Int(duration.seconds * 1000) }
}

/// `<run_id>_manifest.json`: what a consumer needs to trust the run's other files, uploaded
/// last so that seeing it means the rest is complete. Built only from facts fixed once the run
/// is transformed, so saving a run again writes the same bytes, unless the files are encrypted
/// (each save's streams have their own file keys, so their ciphertext checksums differ).
struct RunManifest: Encodable {
    /// A file's plaintext (`bytes`, `sha256`, what decrypting gives) and, when it is uploaded
    /// encrypted, what the server holds (`ciphertext`).
    struct File: Encodable {
        var name: String
        var rows: Int
        var bytes: Int
        var sha256: String
        var ciphertext: RunUploader.Ciphertext?
    }

    /// How the data files are encrypted: the format and the recipients' public keys.
    struct Encryption: Encodable {
        var format: String
        var recipients: [String]
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
    var encryption: Encryption?

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", status, startedAt = "started_at", extractedAt = "extracted_at"
        case transformedAt = "transformed_at", files, counts, encryption
    }

    init(record: RunRecord, files: [RunUploader.Item], counts: [String: Int], encryption: UploadEncryption? = nil) {
        runID = record.id.rawValue
        status = RunStatus.completed.rawValue
        startedAt = Timestamp.format(record.startedAt)
        extractedAt = record.phaseFinishedAt[.extract].map(Timestamp.format)
        transformedAt = record.phaseStartedAt[.transform].map(Timestamp.format)
        self.files = files.map { File(name: $0.name, rows: $0.local.rows, bytes: $0.local.bytes, sha256: $0.local.sha256, ciphertext: $0.ciphertext) }
        self.encryption = encryption.map { Encryption(format: UploadEncryption.format, recipients: $0.recipients.map(\.encoded)) }
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
