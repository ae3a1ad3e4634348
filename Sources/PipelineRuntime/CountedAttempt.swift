import Logging
import PipelineCore
import PipelineRedis

/// One attempt of a stage at a phase of a run, counted for ``CrashLoop`` — what every stage
/// does under a run's claim before and after its work, in one place.
///
/// Before the work, the attempt is counted in the ledger; a run on which the stage already died
/// ``CrashLoop/maxConsecutiveDeaths`` times in a row is failed instead (recorded, and
/// `channel:run_failed` published) and the work does not run. After the work, an error the
/// process survived clears the count (it is not a death), except a lost claim (the attempt may
/// be another replica's now) and errors the work already recorded as the run's failure (which
/// clears the count itself).
public struct CountedAttempt: Sendable {
    public let phase: Phase
    public let ledger: RunLedger
    public let publisher: SignalPublisher
    /// The claim owner, so the ledger says which process made the attempt.
    public let owner: String

    public init(phase: Phase, ledger: RunLedger, publisher: SignalPublisher, owner: String) {
        self.phase = phase
        self.ledger = ledger
        self.publisher = publisher
        self.owner = owner
    }

    public enum Outcome<T: Sendable>: Sendable {
        case done(T)
        /// The run was failed for this crash loop; the work did not run.
        case refused(CrashLoop)
    }

    /// Counts the attempt, runs `work`, and clears the count when `work` throws an error the
    /// process survived. `isRecorded` says which errors `work` already recorded in the ledger.
    public func run<T: Sendable>(
        _ id: RunID, chunk: Int? = nil, logger: Logger, isRecorded: @Sendable (any Error) -> Bool = { _ in false },
        _ work: () async throws -> T
    ) async throws -> Outcome<T> {
        let token = RunLedger.attemptToken(owner: owner)
        switch try await ledger.beginAttempt(phase, run: id, chunk: chunk, token: token) {
        case .refused(let loop):
            logger.error("\(phase.rawValue) failed", metadata: ["error": "\(loop)"])
            let signal = try await ledger.failPhase(phase, run: id, error: loop.description, keepAttempts: true)
            await publisher.publish(signal, on: .runFailed, logger: logger)
            return .refused(loop)
        case .began(let number):
            if number > 1 {
                logger.warning("attempt \(number) at this run: the \(phase.stageName) died during the last \(number - 1)",
                               metadata: ["limit": "\(CrashLoop.maxConsecutiveDeaths)"])
            }
        }
        do {
            let result = try await work()
            // A normal return is a handled end too (a no-op once the phase's completion cleared it).
            await end(token, run: id, chunk: chunk, logger: logger)
            return .done(result)
        } catch let error where !(error is ClaimLost) && !isRecorded(error) {
            // Stopped gracefully, or an error this process survived: not a death.
            await end(token, run: id, chunk: chunk, logger: logger)
            throw error
        }
    }

    /// Clears the attempt count even while this task is being cancelled (a graceful shutdown).
    private func end(_ token: String, run id: RunID, chunk: Int?, logger: Logger) async {
        let ledger = self.ledger
        let phase = self.phase
        do {
            try await Task { try await ledger.endAttempt(phase, run: id, chunk: chunk, token: token) }.value
        } catch {
            logger.warning("could not clear the attempt count; it counts as a death", metadata: ["error": "\(error)"])
        }
    }
}
