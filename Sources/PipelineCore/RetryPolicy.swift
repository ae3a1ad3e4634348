import Foundation

/// Exponential backoff with jitter, a cap, `Retry-After` and a bounded number of retries.
///
/// A value type with no clock of its own: ``delay(forRetry:retryAfter:using:)`` is pure, and
/// ``RetryPolicy/run(_:classify:sleep:onRetry:)`` takes its `sleep` as a parameter, so tests
/// drive the whole schedule without waiting and production passes `Task.sleep`.
public struct RetryPolicy: Sendable, Equatable {
    /// Retries after the first try (so `maxRetries + 1` attempts in all).
    public var maxRetries: Int
    /// The wait before the first retry.
    public var baseDelay: Duration
    /// Each further retry waits `multiplier` times the previous one.
    public var multiplier: Double
    /// No wait is longer than this, `Retry-After` included.
    public var maxDelay: Duration
    /// Fraction of the nominal delay added or removed at random (0.2 is ±20%), so that
    /// replicas failing together do not retry in lock-step.
    public var jitter: Double

    public init(
        maxRetries: Int = 3,
        baseDelay: Duration = .seconds(5),
        multiplier: Double = 3,
        maxDelay: Duration = .seconds(60),
        jitter: Double = 0.2
    ) {
        precondition(maxRetries >= 0, "maxRetries must not be negative")
        precondition(multiplier >= 1, "multiplier must be at least 1")
        precondition(jitter >= 0 && jitter < 1, "jitter must be in [0, 1)")
        self.maxRetries = maxRetries
        self.baseDelay = baseDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    /// The extractor's default schedule (docs/ARCHITECTURE.md, "Retries"): 3 retries waiting 5 s, 15 s, 45 s (±20%), capped at 60 s.
    public static let `default` = RetryPolicy()

    /// The wait before retry number `retry` (1-based) before jitter, capped at ``maxDelay``.
    public func nominalDelay(forRetry retry: Int) -> Duration {
        precondition(retry >= 1, "retries are numbered from 1")
        let seconds = baseDelay.seconds * pow(multiplier, Double(retry - 1))
        return min(.seconds(seconds), maxDelay)
    }

    /// The wait before retry number `retry` (1-based).
    ///
    /// A server's `Retry-After` wins over the schedule (it knows when it will take requests
    /// again) but is still capped at ``maxDelay``; otherwise the nominal delay with jitter.
    public func delay(
        forRetry retry: Int,
        retryAfter: Duration? = nil,
        using generator: inout some RandomNumberGenerator
    ) -> Duration {
        if let retryAfter {
            return min(max(retryAfter, .zero), maxDelay)
        }
        let nominal = nominalDelay(forRetry: retry).seconds
        let factor = jitter == 0 ? 1 : Double.random(in: (1 - jitter)...(1 + jitter), using: &generator)
        return min(.seconds(nominal * factor), maxDelay)
    }

    /// The bounds within which ``delay(forRetry:retryAfter:using:)`` falls for `retry` without
    /// `Retry-After`: what tests assert a measured wait against.
    public func delayRange(forRetry retry: Int) -> ClosedRange<Duration> {
        let nominal = nominalDelay(forRetry: retry).seconds
        return min(.seconds(nominal * (1 - jitter)), maxDelay)...min(.seconds(nominal * (1 + jitter)), maxDelay)
    }
}

/// What to do about one failed attempt.
public enum RetryDecision: Sendable, Equatable {
    /// Transient: try again, after `retryAfter` when the server said so.
    case retry(retryAfter: Duration?)
    /// Permanent: give up now.
    case fail
}

/// One retry about to be taken, for logging: which retry, why, and how long it waits.
public struct RetryEvent: Sendable {
    public var retry: Int
    public var maxRetries: Int
    public var delay: Duration
    public var error: any Error
}

/// Thrown by ``RetryPolicy/run(_:classify:sleep:onRetry:)`` when the last allowed attempt failed.
public struct RetriesExhausted: Error, CustomStringConvertible {
    /// Attempts made, the first try included.
    public var attempts: Int
    public var lastError: any Error
    public var description: String { "gave up after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(lastError)" }
}

extension RetryPolicy {
    /// Runs `operation` (given the 1-based attempt number) until it succeeds, `classify` calls an
    /// error permanent, or the retries run out; `onRetry` hears of each wait before it.
    ///
    /// - Throws: the permanent error as it was thrown, or ``RetriesExhausted`` wrapping the last one;
    ///   `CancellationError` when the task is cancelled while waiting.
    public func run<T>(
        _ operation: (_ attempt: Int) async throws -> T,
        classify: (any Error) -> RetryDecision,
        sleep: (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        onRetry: (RetryEvent) -> Void = { _ in }
    ) async throws -> T {
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            do {
                return try await operation(attempt)
            } catch {
                if error is CancellationError { throw error }
                guard case .retry(let retryAfter) = classify(error) else { throw error }
                guard attempt <= maxRetries else { throw RetriesExhausted(attempts: attempt, lastError: error) }
                let wait = delay(forRetry: attempt, retryAfter: retryAfter, using: &generator)
                onRetry(RetryEvent(retry: attempt, maxRetries: maxRetries, delay: wait, error: error))
                try await sleep(wait)
                attempt += 1
            }
        }
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// Whole milliseconds, rounded up, at least 1 and at most `Int32.max`: what curl, libssh2,
    /// `poll(2)` and Redis TTLs take, where 0 would mean "no limit" or be refused.
    public var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let milliseconds = Double(seconds) * 1000 + Double((attoseconds + perMillisecond - 1) / perMillisecond)
        return Int(min(max(milliseconds, 1), Double(Int32.max)))
    }
}
