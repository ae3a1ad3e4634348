import Foundation
import PipelineCore

/// Which failures are worth another attempt (docs/ARCHITECTURE.md, "Retries"), decided next to
/// the errors so that `RetryPolicy.run(classify:)` needs no HTTP knowledge: the network path
/// (DNS included: in containers it is often just not ready yet) and the statuses that mean
/// "later" (408, 429, 5xx) are transient; a wrong request, TLS (a certificate does not fix
/// itself), an oversized body and unknown curl failures are not.
extension HTTPClientError {
    public var retryDecision: RetryDecision {
        switch self {
        case .dnsFailure, .connectionFailed, .connectionLost, .timedOut, .truncatedBody:
            .retry(retryAfter: nil)
        case .unsuccessfulStatus(_, let status, let retryAfter):
            HTTPResponse.retryDecision(status: status, retryAfter: retryAfter)
        case .invalidRequest, .tls, .responseTooLarge, .other:
            .fail
        }
    }

    /// The decision for any error a request may throw, for
    /// `RetryPolicy.run(_:classify: HTTPClientError.retryDecision(for:))`: an
    /// ``HTTPClientError`` decides for itself; anything else (cancellation included) fails.
    public static func retryDecision(for error: any Error) -> RetryDecision {
        (error as? HTTPClientError)?.retryDecision ?? .fail
    }
}

extension HTTPResponse {
    /// What to do about this response when it is not the one wanted: 408, 429 and 5xx are
    /// retried after the server's `Retry-After` (when given, measured from `now`); any other
    /// status fails, a 2xx included, since there is nothing to retry.
    public func retryDecision(now: Date = Date()) -> RetryDecision {
        Self.retryDecision(status: status, retryAfter: retryAfter(now: now))
    }

    /// This response when it is 2xx; otherwise throws
    /// ``HTTPClientError/unsuccessfulStatus(endpoint:status:retryAfter:)``, so a status failure
    /// flows through the same `catch` and classification as a network failure.
    @discardableResult
    public func requireSuccess(now: Date = Date()) throws(HTTPClientError) -> HTTPResponse {
        guard isSuccess else {
            throw .unsuccessfulStatus(endpoint: endpoint, status: status, retryAfter: retryAfter(now: now))
        }
        return self
    }

    static func retryDecision(status: Int, retryAfter: Duration?) -> RetryDecision {
        switch status {
        case 408, 429, 500...599: .retry(retryAfter: retryAfter)
        default: .fail
        }
    }
}
