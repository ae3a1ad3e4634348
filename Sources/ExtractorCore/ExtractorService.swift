import Logging
import PipelineCore
import ServiceLifecycle

/// Runs an extraction at start-up and then every `EXTRACT_INTERVAL_SECONDS`, until shutdown.
/// A failed cycle is logged (and recorded in the ledger) and the schedule goes on: the next
/// cycle resumes the failed run from its checkpoint.
public struct ExtractorService: Service {
    let extraction: Extraction
    let interval: Duration
    let logger: Logger

    public init(extraction: Extraction, interval: Duration, logger: Logger) {
        self.extraction = extraction
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            defer { logger.info("stopped") }
            // The first cycle may take over a claim this instance's previous life left (see RunClaims).
            var first = true
            while !Task.isCancelled {
                let started = ContinuousClock.now
                defer { first = false }
                do {
                    _ = try await extraction.runCycle(takingOver: first)
                } catch is CancellationError {
                    break
                } catch {
                    logger.error("cycle failed; the next one resumes the run", metadata: ["error": "\(error)"])
                }
                let next = started + interval
                logger.info("next extraction", metadata: ["in_s": "\(Int((next - .now).seconds))"])
                // Shutdown cancels the wait: that is a clean stop, not a failure.
                guard (try? await Task.sleep(until: next, clock: .continuous)) != nil else { break }
            }
        }
    }
}
