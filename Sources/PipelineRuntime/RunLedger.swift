import Foundation
import PipelineCore
import PipelineRedis

/// The run ledger in Redis (docs/ARCHITECTURE.md, "Ledger"): hash `etl:run:<run_id>` per run and the sorted set
/// `etl:runs` of run ids by start time.
///
/// Pub/sub delivers at most once, so every fact a signal carries is written here first; a stage
/// that was down when a signal went out finds its work by scanning the ledger
/// (``unfinishedRuns(scanLimit:)``). Each update is one atomic Redis call touching only the
/// fields of the phase that makes it.
///
/// Every call rides out a short Redis outage (a restart, a failover): a transient error
/// (``RedisError/isTransient``) is retried on a new connection for about nine seconds
/// (``outageRetry``), so a stage in the middle of a run waits for Redis instead of failing the
/// run. Retrying is safe because every write is idempotent.
public struct RunLedger: Sendable {
    public let redis: RedisClient
    /// How long each call keeps trying while Redis cannot be reached.
    public let outage: RetryPolicy

    /// Waits 0.1, 0.2, 0.4, 0.8, 1.6, then 2 s (±20%): eight retries, about nine seconds.
    public static let outageRetry = RetryPolicy(maxRetries: 8, baseDelay: .milliseconds(100), multiplier: 2, maxDelay: .seconds(2), jitter: 0.2)

    public init(redis: RedisClient, outage: RetryPolicy = RunLedger.outageRetry) {
        self.redis = redis
        self.outage = outage
    }

    /// Runs one Redis call under ``outage``; when the retries run out, the last error is thrown
    /// as it was.
    func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await outage.run({ _ in try await body() }, classify: { error in
                (error as? RedisError)?.isTransient == true ? .retry(retryAfter: nil) : .fail
            })
        } catch let exhausted as RetriesExhausted {
            throw exhausted.lastError
        }
    }

    /// Sets `field` of the run's record unless it is set already (`HSETNX`: the first writer
    /// wins), and returns the record's fields, that one included.
    public func setOnce(_ field: String, to value: String, run id: RunID) async throws -> [String: String] {
        _ = try await call { try await redis.hsetnx(LedgerKey.run(id), field: field, value: value) }
        return try await call { try await redis.hgetall(LedgerKey.run(id)) }
    }

    /// Registers a new run as `extracting`, cut into chunks of `chunkUsers` users.
    public func startRun(_ id: RunID, chunkUsers: Int? = nil, at date: Date = Date()) async throws -> RunRecord {
        var record = RunRecord(id: id, status: .extracting, startedAt: id.startedAt)
        record.phaseStartedAt[.extract] = date
        record.updatedAt = date
        record.chunks.chunkUsers = chunkUsers
        _ = try await call { try await redis.hset(LedgerKey.run(id), record.fields) }
        _ = try await call { try await redis.zadd(LedgerKey.runs, score: id.startedAt.timeIntervalSince1970, member: id.rawValue) }
        return record
    }

    /// The run's record, or `nil` for an unknown id.
    public func run(_ id: RunID) async throws -> RunRecord? {
        let fields = try await call { try await redis.hgetall(LedgerKey.run(id)) }
        return fields.isEmpty ? nil : RunRecord(fields: fields)
    }

    /// Marks `phase` as working on the run, clearing an earlier failure of the same phase.
    ///
    /// The phase's start time is set only the first time: a phase resumed after a crash, or
    /// begun again for its next chunk, keeps it, so anything derived from it (the transformer's
    /// `transformed_at`) is the same on every attempt and a redone chunk writes the same bytes.
    public func beginPhase(_ phase: Phase, run id: RunID, at date: Date = Date()) async throws {
        try await update(id, phase: phase, set: [RunRecord.Field.updatedAt: Timestamp.format(date)],
                         setIfAbsent: [RunRecord.Field.startedAt(phase): Timestamp.format(date)], delete: [])
    }

    /// Records the extractor's resume point after a page is durably appended.
    public func saveCheckpoint(run id: RunID, _ checkpoint: RunRecord.Checkpoint) async throws {
        _ = try await call { try await redis.hset(LedgerKey.run(id), checkpoint.fields) }
    }

    /// Records `phase` as done with its files and counts, and returns the signal to publish.
    /// Completing the extraction clears its checkpoint in the same step.
    @discardableResult
    public func completePhase(
        _ phase: Phase, run id: RunID, files: [StagedFile], counts: [String: Int], at date: Date = Date()
    ) async throws -> PhaseSignal {
        let set = [
            RunRecord.Field.finishedAt(phase): Timestamp.format(date),
            RunRecord.Field.updatedAt: Timestamp.format(date),
            RunRecord.Field.files(phase): JSONText.encode(files),
            RunRecord.Field.counts(phase): JSONText.encode(counts),
        ]
        var delete = RunRecord.Field.attemptFields(phase)
        if phase == .extract { delete += RunRecord.Field.checkpointFields }
        try await update(id, phase: phase, set: set, delete: delete)
        return PhaseSignal(runID: id, phase: phase, status: phase.doneStatus, at: date, files: files, counts: counts)
    }

    /// Records the run as failed in `phase` with a human-readable error; returns the signal for
    /// `channel:run_failed`. An extraction checkpoint is kept so the next cycle resumes from it.
    /// A failure is a handled end of the attempt, so the phase's attempt count is cleared,
    /// except for a ``CrashLoop`` failure (`keepAttempts`), which must stay final. Any URL quoted
    /// in the error is stored redacted (``URLRedaction``): the error is served by the API
    /// (`etl_runs.error`).
    @discardableResult
    public func failPhase(_ phase: Phase, run id: RunID, error: String, keepAttempts: Bool = false, at date: Date = Date()) async throws -> PhaseSignal {
        let error = URLRedaction.redactURLs(in: error)
        try await update(id, phase: nil, set: [
            RunRecord.Field.status: RunStatus.failed.rawValue,
            RunRecord.Field.failedPhase: phase.rawValue,
            RunRecord.Field.error: error,
            RunRecord.Field.updatedAt: Timestamp.format(date),
        ], delete: keepAttempts ? [] : RunRecord.Field.attemptFields(phase))
        return PhaseSignal(runID: id, phase: phase, status: .failed, at: date, error: error)
    }

    /// Run ids, newest first.
    public func recentRuns(limit: Int = 100) async throws -> [RunID] {
        try await call { try await redis.zrevrange(LedgerKey.runs, start: 0, stop: limit - 1) }.compactMap(RunID.init(parsing:))
    }

    /// The newest run whose extraction did not finish (still `extracting`, or `failed` in
    /// `extract`): the extractor resumes it from its checkpoint instead of starting a new run.
    /// A run failed because the extractor kept dying on it (``CrashLoop``) is final: skipped.
    public func unfinishedExtraction(scanLimit: Int = 1000) async throws -> RunRecord? {
        for id in try await scan([.extracting, .failed], limit: scanLimit) {
            guard let record = try await run(id) else { continue }
            if Self.isUnfinishedExtraction(record) { return record }
        }
        return nil
    }

    /// Whether the extractor should resume `record`: still `extracting`, or failed in `extract`
    /// for any reason but a crash loop.
    public static func isUnfinishedExtraction(_ record: RunRecord) -> Bool {
        record.status == .extracting
            || record.failedPhase == .extract && (record.attempts[.extract] ?? 0) < CrashLoop.maxConsecutiveDeaths
    }

    /// The runs among the newest `limit` whose status is one of `statuses`, newest first.
    func scan(_ statuses: [RunStatus], limit: Int) async throws -> [RunID] {
        let reply = try await call { try await redis.eval(Self.scanScript, keys: [LedgerKey.runs], args: [String(limit)] + statuses.map(\.rawValue)) }
        return (reply.array ?? []).compactMap { $0.string.flatMap(RunID.init(parsing:)) }
    }

    /// `KEYS[1]` the sorted set; `ARGV[1]` how many of the newest runs to look at; the other
    /// arguments are the statuses wanted.
    static let scanScript = """
        local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
        local wanted = {}
        for i = 2, #ARGV do wanted[ARGV[i]] = true end
        local out = {}
        for _, id in ipairs(ids) do
            local status = redis.call('HGET', 'etl:run:' .. id, 'status')
            if status and wanted[status] then table.insert(out, id) end
        end
        return out
        """

    /// One atomic step: `HSET` some fields, set others only where absent, `HDEL` others; clear
    /// the run's failure when it is a failure of `phase` (`ARGV[1]`, empty for none); then,
    /// unless the run is `failed`, derive its status from the phases' times (``statusRule``).
    static let updateScript = """
        local key = KEYS[1]
        if ARGV[1] ~= '' and redis.call('HGET', key, 'failed_phase') == ARGV[1] then
            redis.call('HDEL', key, 'failed_phase', 'error')
            redis.call('HSET', key, 'status', 'extracting')
        end
        local i = 2
        local n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do redis.call('HSET', key, ARGV[i], ARGV[i + 1]); i = i + 2 end
        n = tonumber(ARGV[i]); i = i + 1
        for _ = 1, n do redis.call('HSETNX', key, ARGV[i], ARGV[i + 1]); i = i + 2 end
        for j = i, #ARGV do redis.call('HDEL', key, ARGV[j]) end
        \(statusRule)
        return 1
        """

    /// A run's status is where its earliest unfinished phase is: with chunks the phases
    /// overlap, so a run is `extracting` until its last chunk is sealed, however many chunks are
    /// transformed or saved meanwhile; then `transforming` (or `extracted` before the transformer
    /// began), `saving` (or `transformed`), `completed`. `failed` stays until the failing phase
    /// begins again.
    static let statusRule = """
        if redis.call('HGET', key, 'status') ~= 'failed' then
            local f = redis.call('HMGET', key, 'extract_finished_at', 'transform_started_at', 'transform_finished_at',
                                 'save_started_at', 'save_finished_at')
            local status
            if not f[1] then status = 'extracting'
            elseif not f[3] then status = f[2] and 'transforming' or 'extracted'
            elseif not f[5] then status = f[4] and 'saving' or 'transformed'
            else status = 'completed' end
            redis.call('HSET', key, 'status', status)
        end
        """

    func update(_ id: RunID, phase: Phase?, set: [String: String], setIfAbsent: [String: String] = [:], delete: [String]) async throws {
        var args: [String] = [phase?.rawValue ?? "", String(set.count)]
        for (field, value) in set.sorted(by: { $0.key < $1.key }) { args += [field, value] }
        args.append(String(setIfAbsent.count))
        for (field, value) in setIfAbsent.sorted(by: { $0.key < $1.key }) { args += [field, value] }
        args += delete
        _ = try await call { try await redis.eval(Self.updateScript, keys: [LedgerKey.run(id)], args: args) }
    }
}
