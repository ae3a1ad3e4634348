import Logging
import PipelineCore
import PipelineRedis

/// What wakes a stage's loop: once at start-up, on each signal on `channels`, and every
/// `interval` (the reconcile pass that finds what a missed signal would have said). Wake-ups that
/// come while a pass runs are coalesced into one, so a burst of signals costs one more pass.
public struct WakeUps: Sendable {
    let redisURL: RedisURL
    let channels: [String]
    let interval: Duration
    /// Logs a lost subscription when given; nil where another loop of the process logs it.
    let logger: Logger?

    public init(redisURL: RedisURL, channels: [String], interval: Duration, logger: Logger?) {
        self.redisURL = redisURL
        self.channels = channels
        self.interval = interval
        self.logger = logger
    }

    /// Runs `pass` for every wake-up, with its reason (`start-up`, `subscribed`, the channel,
    /// `reconcile`), until cancelled or the subscription fails for good.
    public func run(_ pass: @escaping @Sendable (_ reason: String) async throws -> Void) async throws {
        let (wakeups, wake) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
        wake.yield("start-up")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [redisURL, channels, logger] in
                let subscriber = RedisSubscriber(url: redisURL, channels: channels)
                defer { subscriber.close() }
                for try await event in subscriber.events {
                    switch event {
                    case .subscribed: wake.yield("subscribed")
                    case .message(let channel, _): wake.yield(channel)
                    case .reconnecting(let attempt, let delay, let error):
                        logger?.warning("lost the subscription; reconnecting", metadata: [
                            "attempt": "\(attempt)", "delay_s": "\(delay.seconds)", "error": "\(error)",
                        ])
                    }
                }
            }
            group.addTask { [interval] in
                while true {
                    try await Task.sleep(for: interval)
                    wake.yield("reconcile")
                }
            }
            group.addTask {
                for await reason in wakeups {
                    try Task.checkCancellation()
                    try await pass(reason)
                }
            }
            defer { group.cancelAll(); wake.finish() }
            try await group.next()
        }
    }
}
