import Foundation
import Logging
import Synchronization
import PipelineCore
import PipelineRedis
import ServiceLifecycle

/// What a phase produced for one run: its staged files and named counts, recorded in the ledger
/// and carried by the completion signal.
public struct PhaseOutput: Sendable, Equatable {
    public var files: [StagedFile]
    public var counts: [String: Int]

    public init(files: [StagedFile], counts: [String: Int]) {
        self.files = files
        self.counts = counts
    }
}

/// The loop every downstream stage runs: wake on the previous stage's chunk and phase signals,
/// on start-up, after every (re)subscription and every `RECONCILE_INTERVAL_SECONDS`; scan the
/// ledger for unfinished runs; claim the work each has for this phase (a chunk, or the run),
/// do it, record the outcome in the ledger, then publish it.
///
/// Signals only wake the loop: what to do is always read from the ledger, so a signal missed
/// while the stage was down or Redis was restarting costs at most one interval. On graceful
/// shutdown the current run's work is cancelled and its claim released; the run keeps its
/// active status and is picked up again by the next start. A run on which the stage died
/// ``CrashLoop/maxConsecutiveDeaths`` times in a row is failed instead (``CrashLoop``).
public struct PhaseWorker: Service {
    /// How a phase takes a run's chunks.
    public enum Work: Sendable {
        /// Each sealed chunk on its own, under a claim of that chunk, in any order and by any
        /// replica (the transformer). The phase completes once every chunk has its record and the
        /// previous phase is complete.
        case eachChunk(@Sendable (_ run: RunRecord, _ chunk: SealedChunk, _ logger: Logger) async throws -> TransformedChunk)
        /// The run's ready chunks in order, under one claim of the run (the saver, whose outputs
        /// grow in order). Returns the phase's output once the last chunk is done; `nil` while more
        /// are to come.
        case inOrder(@Sendable (_ run: RunRecord, _ logger: Logger) async throws -> PhaseOutput?)
    }

    public let phase: Phase
    private let redisURL: RedisURL
    private let ledger: RunLedger
    private let claims: RunClaims
    private let publisher: SignalPublisher
    private let reconcileInterval: Duration
    private let logger: Logger
    private let work: Work

    public init(
        phase: Phase, redis: RedisClient, redisURL: RedisURL, claims: RunClaims? = nil,
        reconcileInterval: Duration, logger: Logger, work: Work
    ) {
        precondition(phase.previous != nil, "the first phase has no upstream to wait for")
        self.phase = phase
        self.redisURL = redisURL
        self.ledger = RunLedger(redis: redis)
        self.claims = claims ?? RunClaims(redis: redis)
        self.publisher = SignalPublisher(redis: redis)
        self.reconcileInterval = reconcileInterval
        self.logger = logger
        self.work = work
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            do {
                try await runLoop()
            } catch is CancellationError {
                // Shutdown cancels the loop: a clean stop, not a failure.
            }
            logger.info("stopped")
        }
    }

    private func runLoop() async throws {
        let upstream = phase.previous!
        let channels = [upstream.completionChannel, upstream.chunkChannel].compactMap { $0?.rawValue }
        logger.info("waiting for runs", metadata: ["channels": "\(channels.joined(separator: ","))", "reconcile_every_s": "\(reconcileInterval.seconds)"])
        // The first pass may take over claims this instance's previous life left (RunClaims).
        let first = Mutex(true)
        try await WakeUps(redisURL: redisURL, channels: channels, interval: reconcileInterval, logger: logger).run { [self] reason in
            let takingOver = first.withLock { value in defer { value = false }; return value }
            await reconcile(reason: reason, takingOver: takingOver)
        }
    }

    /// Works through every run with work for this phase, oldest first; `takingOver` as in
    /// ``RunClaims/withClaim(_:run:chunk:takingOver:_:)``.
    public func reconcile(reason: String, takingOver: Bool = false) async {
        let runs: [RunID]
        do {
            runs = try await ledger.unfinishedRuns()
        } catch {
            logger.warning("ledger scan failed; retrying at the next wake-up", metadata: ["error": "\(error)", "reason": "\(reason)"])
            return
        }
        for id in runs {
            if Task.isCancelled { return }
            var runLogger = logger
            runLogger[metadataKey: "run_id"] = "\(id)"
            do {
                guard let record = try await ledger.run(id), record.status != .failed else { continue }
                switch work {
                case .eachChunk:
                    for chunk in record.chunks.awaitingTransform {
                        if Task.isCancelled { return }
                        await process(id, chunk: chunk.index, takingOver: takingOver, logger: runLogger)
                    }
                    try await finishIfDone(id, takingOver: takingOver, logger: runLogger)
                case .inOrder:
                    if record.chunks.nextToSave != nil || isDone(record) {
                        await process(id, chunk: nil, takingOver: takingOver, logger: runLogger)
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                runLogger.warning("could not look at the run; retrying at the next wake-up", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Whether the previous phase and this one have a record of every chunk, so all that is left
    /// is finishing the phase.
    private func isDone(_ record: RunRecord) -> Bool {
        record.phaseFinishedAt[phase.previous!] != nil && record.chunks.allDone(phase.previous!) && record.chunks.allDone(phase)
            && record.phaseFinishedAt[phase] == nil
    }

    /// Claims one chunk (or, for ``Work/inOrder(_:)``, the run) and works on it; returns whether
    /// this replica did the work.
    @discardableResult
    public func process(_ id: RunID, chunk: Int?, takingOver: Bool = false, logger: Logger) async -> Bool {
        do {
            let done = try await claims.withClaim(phase, run: id, chunk: chunk, takingOver: takingOver) { [self, logger] () async throws -> Bool in
                // Re-read under the claim: another replica may have done the work meanwhile.
                guard let record = try await ledger.run(id), record.status != .failed else { return false }
                if let chunk {
                    guard let sealed = record.chunks.sealed[chunk], record.chunks.transformed[chunk] == nil else { return false }
                    var chunkLogger = logger
                    chunkLogger[metadataKey: "chunk"] = "\(chunk)"
                    try await perform(record, chunk: sealed, logger: chunkLogger)
                } else {
                    try await perform(record, chunk: nil, logger: logger)
                }
                return true
            }
            if done == nil { logger.debug("another replica holds it", metadata: chunk.map { ["chunk": "\($0)"] } ?? [:]) }
            return done ?? false
        } catch is CancellationError {
            logger.info("stopped before the work was done; it will be resumed")
            return false
        } catch {
            logger.error("could not work on the run", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func perform(_ record: RunRecord, chunk: SealedChunk?, logger: Logger) async throws {
        // Counted only now, under the claim: a replica that lost the race never counts.
        let counted = CountedAttempt(phase: phase, ledger: ledger, publisher: publisher, owner: claims.owner)
        _ = try await counted.run(record.id, chunk: chunk?.index, logger: logger) {
            try await attempt(record, chunk: chunk, logger: logger)
        }
    }

    private func attempt(_ record: RunRecord, chunk: SealedChunk?, logger: Logger) async throws {
        try await ledger.beginPhase(phase, run: record.id)
        let started = ContinuousClock.now
        do {
            switch work {
            case .eachChunk(let transform):
                guard let chunk else { return }
                let output = try await transform(record, chunk, logger)
                try await ledger.recordTransformed(output, index: chunk.index, run: record.id)
                await publisher.publish(ChunkSignal(runID: record.id, phase: phase, chunk: chunk.index, rows: chunk.rows),
                                        on: .chunkTransformed, logger: logger)
                logger.info("chunk \(phase.rawValue)ed", metadata: [
                    "rows": "\(chunk.rows)", "ms": "\(Int((ContinuousClock.now - started).seconds * 1000))",
                    "counts": "\(Self.describe(output.counts))",
                ])
            case .inOrder(let save):
                guard let output = try await save(record, logger) else { return }
                let signal = try await ledger.completePhase(phase, run: record.id, files: output.files, counts: output.counts)
                await publisher.publish(signal, on: phase.completionChannel, logger: logger)
                logger.info("\(phase.rawValue) complete", metadata: [
                    "ms": "\(Int((ContinuousClock.now - started).seconds * 1000))", "counts": "\(Self.describe(output.counts))",
                ])
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch let lost as ClaimLost {
            throw lost
        } catch {
            let message = "\(error)"
            logger.error("\(phase.rawValue) failed", metadata: ["error": "\(message)"])
            let signal = try await ledger.failPhase(phase, run: record.id, error: message)
            await publisher.publish(signal, on: .runFailed, logger: logger)
        }
    }

    /// Completes the phase of a run chunk by chunk once every chunk has its record and the
    /// previous phase is complete: the files of every chunk, the counts summed. Under the run's
    /// claim, so one replica completes it and publishes once.
    private func finishIfDone(_ id: RunID, takingOver: Bool, logger: Logger) async throws {
        guard let record = try await ledger.run(id), isDone(record) else { return }
        _ = try await claims.withClaim(phase, run: id, takingOver: takingOver) { [self] () async throws -> Bool in
            guard let record = try await ledger.run(id), record.status != .failed, isDone(record) else { return false }
            let chunks = (0..<(record.chunks.total ?? 0)).compactMap { record.chunks.transformed[$0] }
            var counts: [String: Int] = [:]
            for chunk in chunks { counts.merge(chunk.counts, uniquingKeysWith: +) }
            let signal = try await ledger.completePhase(phase, run: id, files: chunks.flatMap(\.files), counts: counts)
            await publisher.publish(signal, on: phase.completionChannel, logger: logger)
            logger.info("\(phase.rawValue) complete", metadata: ["chunks": "\(chunks.count)", "counts": "\(Self.describe(counts))"])
            return true
        }
    }

    static func describe(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}
