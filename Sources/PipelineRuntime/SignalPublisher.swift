import Logging
import PipelineCore
import PipelineRedis

/// Publishes phase signals after the ledger has recorded them.
///
/// A signal is a wake-up call, not the record: when publishing fails the ledger still holds
/// the facts and the next stage's reconcile scan finds the run, so a publish error is logged
/// and swallowed rather than failing a run whose work is done.
public struct SignalPublisher: Sendable {
    public let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// Publishes `signal` on `channel`; returns how many subscribers received it (0 on error).
    @discardableResult
    public func publish(_ signal: PhaseSignal, on channel: Channel, logger: Logger) async -> Int {
        await publish(json: signal.json, on: channel, logger: logger)
    }

    /// Publishes a chunk's hand-off on `channel`.
    @discardableResult
    public func publish(_ signal: ChunkSignal, on channel: Channel, logger: Logger) async -> Int {
        await publish(json: signal.json, on: channel, logger: logger)
    }

    private func publish(json: String, on channel: Channel, logger: Logger) async -> Int {
        do {
            let receivers = try await redis.publish(channel.rawValue, json)
            logger.debug("published \(channel.rawValue)", metadata: ["receivers": "\(receivers)"])
            return receivers
        } catch {
            logger.warning("could not publish \(channel.rawValue); the ledger has the run, so the next stage's reconcile scan will find it",
                           metadata: ["error": "\(error)"])
            return 0
        }
    }
}
