import Foundation
import Logging
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

/// The loop every downstream stage runs (DESIGN.md §4): wake on the previous phase's signal, on
/// start-up, after every (re)subscription and every `RECONCILE_INTERVAL_SECONDS`; scan the
/// ledger for runs ready for this phase; claim each, do the work, record the outcome in the
/// ledger, then publish it.
///
/// Signals only wake the loop: what to do is always read from the ledger, so a signal missed
/// while the stage was down or Redis was restarting costs at most one interval. On graceful
/// shutdown the current run's work is cancelled and its claim released; the run keeps its
/// active status and is picked up again by the next start. A run on which the stage died
/// ``CrashLoop/maxConsecutiveDeaths`` times in a row is failed instead (``CrashLoop``).
public struct PhaseWorker: Service {
    public typealias Work = @Sendable (_ run: RunRecord, _ logger: Logger) async throws -> PhaseOutput

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
        reconcileInterval: Duration, logger: Logger, work: @escaping Work
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
        let (wakeups, wake) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
        wake.yield("start-up")
        let channel = phase.previous!.completionChannel.rawValue
        logger.info("waiting for runs", metadata: ["channel": "\(channel)", "reconcile_every_s": "\(reconcileInterval.seconds)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let subscriber = RedisSubscriber(url: redisURL, channels: [channel])
                defer { subscriber.close() }
                for try await event in subscriber.events {
                    switch event {
                    case .subscribed: wake.yield("subscribed")
                    case .message: wake.yield("signal")
                    case .reconnecting(let attempt, let delay, let error):
                        logger.warning("lost the subscription; reconnecting", metadata: [
                            "attempt": "\(attempt)", "delay_s": "\(delay.seconds)", "error": "\(error)",
                        ])
                    }
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: reconcileInterval)
                    wake.yield("reconcile")
                }
            }
            group.addTask {
                // The first pass may take over claims this instance's previous life left (RunClaims).
                var first = true
                for await reason in wakeups {
                    try Task.checkCancellation()
                    await reconcile(reason: reason, takingOver: first)
                    first = false
                }
            }
            defer { group.cancelAll(); wake.finish() }
            try await group.next()
        }
    }

    /// Works through every run ready for this phase, oldest first; `takingOver` as in
    /// ``RunClaims/withClaim(_:run:takingOver:_:)``.
    public func reconcile(reason: String, takingOver: Bool = false) async {
        let ready: [RunID]
        do {
            ready = try await ledger.runs(readyFor: phase)
        } catch {
            logger.warning("ledger scan failed; retrying at the next wake-up", metadata: ["error": "\(error)", "reason": "\(reason)"])
            return
        }
        if !ready.isEmpty {
            logger.debug("runs ready", metadata: ["count": "\(ready.count)", "reason": "\(reason)"])
        }
        for id in ready {
            if Task.isCancelled { return }
            await process(id, takingOver: takingOver)
        }
    }

    /// Claims one run and works on it; returns whether this replica did the work.
    @discardableResult
    public func process(_ id: RunID, takingOver: Bool = false) async -> Bool {
        var runLogger = logger
        runLogger[metadataKey: "run_id"] = "\(id)"
        do {
            let done = try await claims.withClaim(phase, run: id, takingOver: takingOver) { [self, runLogger] () async throws -> Bool in
                // Re-read under the claim: another replica may have finished the run meanwhile.
                guard let record = try await ledger.run(id), isReady(record) else { return false }
                try await perform(record, logger: runLogger)
                return true
            }
            if done == nil { runLogger.debug("another replica holds the run") }
            return done ?? false
        } catch is CancellationError {
            runLogger.info("stopped before the run was done; it will be resumed")
            return false
        } catch {
            runLogger.error("could not work on the run", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func isReady(_ record: RunRecord) -> Bool {
        record.status == phase.activeStatus || record.status == phase.previous!.doneStatus
    }

    private func perform(_ record: RunRecord, logger: Logger) async throws {
        // Counted only now, under the claim: a replica that lost the race never counts.
        let counted = CountedAttempt(phase: phase, ledger: ledger, publisher: publisher, owner: claims.owner)
        _ = try await counted.run(record.id, logger: logger) {
            try await attempt(record, logger: logger)
        }
    }

    private func attempt(_ record: RunRecord, logger: Logger) async throws {
        try await ledger.beginPhase(phase, run: record.id)
        let started = ContinuousClock.now
        let output: PhaseOutput
        do {
            output = try await work(record, logger)
        } catch is CancellationError {
            throw CancellationError()
        } catch let lost as ClaimLost {
            throw lost
        } catch {
            let message = "\(error)"
            logger.error("\(phase.rawValue) failed", metadata: ["error": "\(message)"])
            let signal = try await ledger.failPhase(phase, run: record.id, error: message)
            await publisher.publish(signal, on: .runFailed, logger: logger)
            return
        }
        let signal = try await ledger.completePhase(phase, run: record.id, files: output.files, counts: output.counts)
        await publisher.publish(signal, on: phase.completionChannel, logger: logger)
        logger.info("\(phase.rawValue) complete", metadata: [
            "ms": "\(Int((ContinuousClock.now - started).seconds * 1000))",
            "counts": "\(output.counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))",
        ])
    }
}
