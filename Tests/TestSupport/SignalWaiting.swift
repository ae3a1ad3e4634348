import PipelineCore
import PipelineRedis

/// A subscription the server has confirmed, so every signal published afterwards is heard.
/// Pub/sub channels are shared by every Redis database, so suites running in parallel hear each
/// other's signals: ``next(for:)`` skips those of other runs. Closed when released.
public final class SignalListener {
    private let subscriber: RedisSubscriber
    public var events: AsyncThrowingStream<RedisSubscriber.Event, any Error>.Iterator

    public init(_ url: RedisURL, _ channels: [Channel]) async throws {
        subscriber = RedisSubscriber(url: url, channels: channels.map(\.rawValue))
        events = subscriber.events.makeAsyncIterator()
        let first = try await events.next()
        guard first == .subscribed else { throw ChildProcessError("expected the subscription first, got \(String(describing: first))") }
    }

    deinit { subscriber.close() }

    /// The next signal of `run`; `nil` when the stream ends first.
    public func next(for run: RunID) async throws -> PhaseSignal? {
        while let event = try await events.next() {
            guard case .message(_, let payload) = event, let signal = try? PhaseSignal.decode(payload) else { continue }
            if signal.runID == run { return signal }
        }
        return nil
    }
}
