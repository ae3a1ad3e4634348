import Foundation
import Logging
import PipelineCore
import PipelineDatabase
import PipelineRedis
import PipelineRuntime
import ServiceLifecycle

/// Keeps `etl_runs` showing every run ever started, and prunes old staging.
///
/// The saver writes a run's `completed` row itself, last, once its rows are in. Every other run
/// — failed in any phase, or still on its way — is mirrored here from the ledger: status,
/// failing phase and error, counts so far, staged files, and its events. A mirrored row is
/// rewritten only when the ledger's `updated_at` moved, and never replaces a `completed` row.
///
/// Wakes on every pipeline channel (`channel:run_failed` above all), on start-up, after each
/// (re)subscription and every `RECONCILE_INTERVAL_SECONDS`: like the phase worker, it treats
/// signals as wake-up calls and reads what to do from the ledger, so a missed signal costs at
/// most one interval.
///
/// After each scan it prunes staging (raw files hold secrets): of the runs that nothing will
/// work on again — completed, failed for good, or abandoned — only the newest
/// `STAGING_KEEP_RUNS` keep their staging directory (``pruneStaging()``, docs/STAGING.md).
public struct RunRecorder: Service {
    let redisURL: RedisURL
    let ledger: RunLedger
    let store: SaverStore
    let layout: StagingLayout
    let keepRuns: Int
    let interval: Duration
    let scanLimit: Int
    let logger: Logger

    public init(
        redis: RedisClient, redisURL: RedisURL, store: SaverStore, layout: StagingLayout, keepRuns: Int,
        interval: Duration, scanLimit: Int = 1000, logger: Logger
    ) {
        self.redisURL = redisURL
        self.ledger = RunLedger(redis: redis)
        self.store = store
        self.layout = layout
        self.keepRuns = keepRuns
        self.interval = interval
        self.scanLimit = scanLimit
        self.logger = logger
    }

    public func run() async throws {
        try await StopsCleanly.run {
            try await cancelWhenGracefulShutdown {
                try await loop()
            }
        }
    }

    private func loop() async throws {
        // The phase worker's subscriber logs a lost subscription; this one stays quiet.
        try await WakeUps(redisURL: redisURL, channels: Channel.allCases.map(\.rawValue), interval: interval, logger: nil).run { [self] reason in
            await sync(reason: reason)
        }
    }

    /// One pass: mirror the ledger into `etl_runs`, then prune staging. Errors are logged; the
    /// next wake-up tries again.
    public func sync(reason: String = "manual") async {
        do {
            let written = try await recordRuns()
            if written > 0 { logger.debug("recorded runs from the ledger", metadata: ["rows": "\(written)", "reason": "\(reason)"]) }
        } catch is CancellationError {
            return
        } catch {
            logger.warning("could not record runs from the ledger; retrying at the next wake-up", metadata: ["error": "\(error)"])
        }
        do {
            _ = try await pruneStaging()
        } catch is CancellationError {
            return
        } catch {
            logger.warning("could not prune staging; retrying at the next wake-up", metadata: ["error": "\(error)"])
        }
    }

    /// Writes a row for every run in the newest `scanLimit` of the ledger that is not completed
    /// and whose row is missing or stale; returns how many rows were written.
    public func recordRuns() async throws -> Int {
        let ids = try await ledger.recentRuns(limit: scanLimit)
        let rows = try await store.runStates(ids)
        var pending: [(EtlRun, [EtlRunEvent])] = []
        for id in ids {
            if rows[id]?.status == RunStatus.completed.rawValue { continue }
            guard let record = try await ledger.run(id), record.status != .completed else { continue }
            let row = RunHistory.row(mirroring: record)
            if let existing = rows[id], existing.status == row.status, existing.updatedAt == row.updatedAt { continue }
            pending.append((row, RunHistory.events(of: record)))
            if record.status == .failed {
                logger.info("recording a failed run", metadata: [
                    "run_id": "\(id)", "failed_phase": "\(row.failedPhase ?? "-")", "error": "\(row.error ?? "-")",
                ])
            }
        }
        return try await store.writeRuns(pending, overwriteCompleted: false)
    }

    /// What pruning makes of a run that has a staging directory.
    public enum StagingFate: String, Sendable, Equatable {
        /// Completed, or failed in `transform` or `save` (a failure that is final: no stage
        /// retries it): counts against `STAGING_KEEP_RUNS`.
        case finished
        /// Nothing will ever work on it: the ledger does not know the run (lost, or flushed),
        /// or it is older than the newest `scanLimit` runs that every stage's scan looks at.
        /// Counts against `STAGING_KEEP_RUNS` like a finished run.
        case abandoned
        /// The extractor resumes it at its next cycle (`extracting`, or failed in `extract`,
        /// with or without a checkpoint): always kept.
        case resumable
        /// Waiting for, or in, the transformer or the saver (`extracted`, `transforming`,
        /// `transformed`, `saving`): always kept.
        case inProgress
    }

    /// Which of ``StagingFate`` a staged run is, from its ledger status and failed phase;
    /// `inWindow` says whether it is among the newest `scanLimit` runs of the ledger.
    static func fate(status: RunStatus?, failedPhase: Phase?, inWindow: Bool) -> StagingFate {
        guard let status, inWindow else { return .abandoned }
        switch status {
        case .completed: return .finished
        case .failed: return failedPhase == .extract ? .resumable : .finished
        case .extracting: return .resumable
        case .extracted, .transforming, .transformed, .saving: return .inProgress
        }
    }

    /// Deletes the staging of finished and abandoned runs beyond the newest `keepRuns` of them
    /// (by run id, i.e. start time); runs that are resumable or in progress are never deleted
    /// and do not count. Returns the runs whose staging was deleted. Reads the ledger first, so
    /// nothing is deleted while Redis cannot be reached.
    public func pruneStaging() async throws -> [RunID] {
        let layout = self.layout
        let staged = try await BlockingIO.run { try layout.stagedRuns() }
        guard !staged.isEmpty else { return [] }
        let window = Set(try await ledger.recentRuns(limit: scanLimit))
        var expiring: [(RunID, StagingFate)] = []
        for id in staged.reversed() {  // newest first
            let record = try await ledger.run(id)
            let fate = Self.fate(status: record?.status, failedPhase: record?.failedPhase, inWindow: window.contains(id))
            if fate == .finished || fate == .abandoned { expiring.append((id, fate)) }
        }
        var deleted: [RunID] = []
        for (id, fate) in expiring.dropFirst(keepRuns) {
            try await BlockingIO.run { try layout.removeRun(id) }
            deleted.append(id)
            logger.info("deleted the staging of a \(fate == .finished ? "finished" : "abandoned") run", metadata: [
                "run_id": "\(id)", "keep_runs": "\(keepRuns)", "directory": "\(layout.runDirectory(id))",
            ])
        }
        return deleted
    }
}

/// A service that ends with the `CancellationError` of a graceful shutdown has stopped as asked;
/// rethrowing it would make `ServiceGroup` report a failure (and the process exit non-zero).
enum StopsCleanly {
    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch is CancellationError where Task.isShuttingDownGracefully || Task.isCancelled {
            return
        }
    }
}
