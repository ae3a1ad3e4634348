import PipelineCore
import PipelineRedis

/// Pub/sub channels are shared by every Redis database, so suites running in parallel hear each
/// other's signals: a test waits for the signal of its own run and skips the rest.
public func nextSignal(
    _ events: inout AsyncThrowingStream<RedisSubscriber.Event, any Error>.Iterator, for run: RunID
) async throws -> PhaseSignal? {
    while let event = try await events.next() {
        guard case .message(_, let payload) = event, let signal = try? PhaseSignal.decode(payload) else { continue }
        if signal.runID == run { return signal }
    }
    return nil
}
