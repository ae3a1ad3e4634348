import Dispatch
import Foundation
import PipelineCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Listens on pub/sub channels and delivers what arrives as an `AsyncThrowingStream` of ``Event``s.
///
/// A subscribed connection does nothing but wait in a blocking read, so it gets a thread of
/// its own (named `redis-subscribe`). When the connection breaks the thread reconnects with
/// backoff from a ``RetryPolicy`` and yields ``Event/subscribed`` again: pub/sub is
/// at-most-once, so a stage reacts to every `.subscribed` by re-scanning the ledger
/// (docs/ARCHITECTURE.md, "Signals"). After more consecutive failures than the policy allows,
/// the stream finishes with ``GaveUp``.
///
/// ``close()``, cancelling the task that iterates ``events``, or dropping the stream ends the
/// thread promptly: it shuts the socket down (`shutdown(2)`), which wakes the blocked read, and
/// wakes a backoff wait. The stream then finishes without an error.
public final class RedisSubscriber: Sendable {
    public enum Event: Sendable, Hashable {
        /// Subscribed to every channel: on the first connection and after each reconnect.
        case subscribed
        /// A message published on one of the channels, with its exact bytes.
        case message(channel: String, payload: [UInt8])
        /// The connection failed or broke; the next attempt follows after `delay`.
        /// `attempt` counts consecutive failures, from 1.
        case reconnecting(attempt: Int, delay: Duration, error: RedisError)
    }

    /// Why ``events`` finished with an error: the connection failed more times in a row than
    /// the reconnect policy allows.
    public struct GaveUp: Error, Sendable, CustomStringConvertible {
        /// Consecutive failures, the last included (a lost connection counts as one).
        public var failures: Int
        public var lastError: RedisError
        public var description: String {
            "redis subscriber gave up after \(failures) consecutive failure\(failures == 1 ? "" : "s"), the last: \(lastError)"
        }
    }

    /// Reconnect schedule when none is given: 250 ms doubling to 10 s, giving up after
    /// 10 consecutive failures (about a minute without Redis).
    public static let defaultReconnectPolicy = RetryPolicy(
        maxRetries: 10, baseDelay: .milliseconds(250), multiplier: 2, maxDelay: .seconds(10), jitter: 0.2
    )

    public let url: RedisURL
    public let channels: [String]
    /// The events, for one consumer. Buffered without limit: signals are few and small, and a
    /// message dropped here would be lost for good.
    public let events: AsyncThrowingStream<Event, any Error>
    private let control: Control

    /// Starts the subscriber thread, which connects and subscribes right away.
    public init(
        url: RedisURL,
        channels: [String],
        connectTimeout: Duration = .seconds(5),
        commandTimeout: Duration = .seconds(5),
        reconnectPolicy: RetryPolicy = RedisSubscriber.defaultReconnectPolicy
    ) {
        precondition(!channels.isEmpty, "subscribe to at least one channel")
        precondition(connectTimeout > .zero && commandTimeout > .zero, "Redis timeouts must be positive")
        self.url = url
        self.channels = channels
        let control = Control()
        self.control = control
        let (events, continuation) = AsyncThrowingStream.makeStream(of: Event.self, throwing: (any Error).self)
        self.events = events
        continuation.onTermination = { _ in control.close() }
        let loop = ReadLoop(
            url: url, channels: channels, connectTimeout: connectTimeout, commandTimeout: commandTimeout,
            policy: reconnectPolicy, control: control, continuation: continuation
        )
        let thread = Thread {
            #if os(Linux)
            // Foundation's `Thread.name` does not reach the kernel on Linux; this does, for
            // `top -H`, gdb and the tests that check the thread is gone after `close()`.
            try? "redis-subscribe".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            #endif
            loop.run()
        }
        thread.name = "redis-subscribe"
        thread.start()
    }

    /// Stops listening: the read loop ends promptly and ``events`` finishes. Safe to call more than once.
    public func close() {
        control.close()
    }

    /// What `close()` and the read loop share: whether to stop, and the socket to shut down.
    private final class Control: Sendable {
        private struct State {
            var isClosed = false
            var socket: Int32?
        }

        private let state = Mutex(State())
        private let wakeup = DispatchSemaphore(value: 0)

        var isClosed: Bool { state.withLock { $0.isClosed } }

        func close() {
            state.withLock { state in
                guard !state.isClosed else { return }
                state.isClosed = true
                // Under the lock, so the read loop cannot free the context (closing the socket,
                // whose number may then be reused) between this check and the shutdown.
                if let socket = state.socket { _ = shutdown(socket, Int32(SHUT_RDWR)) }
            }
            wakeup.signal()
        }

        /// Records the connected socket; `false` if closed meanwhile (then do not use it).
        func register(socket: Int32) -> Bool {
            state.withLock { state in
                guard !state.isClosed else { return false }
                state.socket = socket
                return true
            }
        }

        /// Forgets the socket; call before the context that owns it is freed.
        func unregister() {
            state.withLock { $0.socket = nil }
        }

        /// Waits `duration` or until closed.
        func sleep(_ duration: Duration) {
            let nanoseconds = Int(min(duration.seconds * 1e9, Double(Int.max / 2)))
            _ = wakeup.wait(timeout: .now() + .nanoseconds(nanoseconds))
        }
    }

    /// The body of the subscriber thread. Owns its `RedisContext`s; shares only `control` and the continuation.
    private struct ReadLoop: Sendable {
        let url: RedisURL
        let channels: [String]
        let connectTimeout: Duration
        let commandTimeout: Duration
        let policy: RetryPolicy
        let control: Control
        let continuation: AsyncThrowingStream<Event, any Error>.Continuation

        func run() {
            var generator = SystemRandomNumberGenerator()
            var failures = 0
            while !control.isClosed {
                do throws(RedisError) {
                    let context = try RedisContext.connect(to: url, connectTimeout: connectTimeout, commandTimeout: commandTimeout)
                    // Keep the context (and so its socket) alive until it is unregistered.
                    try withExtendedLifetime(context) { () throws(RedisError) in
                        guard control.register(socket: context.fileDescriptor) else { return }
                        defer { control.unregister() }
                        try subscribe(context)
                        failures = 0
                        continuation.yield(.subscribed)
                        try receive(context)
                    }
                } catch {
                    if control.isClosed { break }
                    failures += 1
                    guard failures <= policy.maxRetries else {
                        continuation.finish(throwing: GaveUp(failures: failures, lastError: error))
                        return
                    }
                    let delay = policy.delay(forRetry: failures, using: &generator)
                    continuation.yield(.reconnecting(attempt: failures, delay: delay, error: error))
                    control.sleep(delay)
                }
            }
            continuation.finish()
        }

        /// Sends SUBSCRIBE and reads one confirmation per channel, then waits for messages without a timeout.
        private func subscribe(_ context: RedisContext) throws(RedisError) {
            var reply = try context.command([Array("SUBSCRIBE".utf8)] + channels.map { Array($0.utf8) })
            for index in channels.indices {
                if index > 0 { reply = try context.readReply(command: "SUBSCRIBE") }
                guard reply.array?.first?.string == "subscribe" else {
                    throw RedisError(kind: .unexpectedReply, endpoint: url.endpoint, command: "SUBSCRIBE", message: "expected a subscribe confirmation, got \(reply)")
                }
            }
            try context.setTimeout(nil)
        }

        /// Yields messages until the connection breaks or `close()` shuts the socket down.
        private func receive(_ context: RedisContext) throws(RedisError) {
            while true {
                let reply = try context.readReply(command: "SUBSCRIBE")
                guard let parts = reply.array, parts.count == 3, parts[0].string == "message",
                      let channel = parts[1].bytes, let payload = parts[2].bytes
                else { continue }
                continuation.yield(.message(channel: String(decoding: channel, as: UTF8.self), payload: payload))
            }
        }
    }
}
