import Foundation
import Logging
import PipelineCore
import PipelineHTTP

/// Fetches one page with the retry policy of docs/ARCHITECTURE.md, "Retries": connection errors, timeouts,
/// truncated bodies, 408, 429 and 5xx are retried with backoff (a `Retry-After` sets the wait),
/// as is a body that is not the expected envelope (a proxy or upstream glitch); other 4xx fail
/// at once.
public struct PageFetcher: Sendable {
    public typealias Sleep = @Sendable (Duration) async throws -> Void

    let http: any HTTPClient
    let settings: ExtractorSettings
    let sleep: Sleep

    public init(http: any HTTPClient, settings: ExtractorSettings, sleep: @escaping Sleep = { try await Task.sleep(for: $0) }) {
        self.http = http
        self.settings = settings
        self.sleep = sleep
    }

    /// A page and the body it came in.
    public struct Fetched: Sendable {
        public var page: UsersPage
        public var body: [UInt8]
        public var attempts: Int
        public var elapsed: Duration
    }

    public func fetch(skip: Int, logger: Logger) async throws -> Fetched {
        let url = settings.pageURL(skip: skip)
        let started = ContinuousClock.now
        var attempts = 0
        do {
            return try await settings.retry.run({ attempt in
                attempts = attempt
                let response = try await http.get(url, headers: ["Accept": "application/json"]).requireSuccess()
                do {
                    let page = try UsersPage.parse(response.body)
                    return Fetched(page: page, body: response.body, attempts: attempt, elapsed: ContinuousClock.now - started)
                } catch let error as EnvelopeError {
                    throw MalformedPage(url: RedactedURL(url).description, reason: error.reason)
                }
            }, classify: { error in
                error is MalformedPage ? .retry(retryAfter: nil) : HTTPClientError.retryDecision(for: error)
            }, sleep: sleep, onRetry: { event in
                logger.warning("page request failed; retrying", metadata: [
                    "skip": "\(skip)", "retry": "\(event.retry)/\(event.maxRetries)",
                    "wait_s": "\(String(format: "%.2f", event.delay.seconds))", "reason": "\(event.error)",
                ])
            })
        } catch let exhausted as RetriesExhausted {
            throw PageFailed(skip: skip, attempts: exhausted.attempts, reason: "\(exhausted.lastError)")
        } catch is CancellationError {
            throw CancellationError()
        } catch HTTPClientError.responseTooLarge(let endpoint, let limit) {
            throw PageFailed(skip: skip, attempts: attempts, reason: "response from \(endpoint) exceeds MAX_PAGE_BYTES (\(limit) bytes)")
        } catch {
            throw PageFailed(skip: skip, attempts: attempts, reason: "\(error)")
        }
    }
}

/// The body of a 2xx response is not `{"users":[…],"total":…,"skip":…}`.
public struct MalformedPage: Error, CustomStringConvertible {
    public var url: String
    public var reason: String
    public var description: String { "GET \(url): body is not the expected users envelope: \(reason)" }
}

/// A page could not be fetched: permanently, or after every retry.
public struct PageFailed: Error, CustomStringConvertible {
    public var skip: Int
    public var attempts: Int
    public var reason: String
    public var description: String {
        "page at skip=\(skip) failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(reason)"
    }
}
