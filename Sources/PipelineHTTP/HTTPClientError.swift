/// Why a request produced no usable response.
///
/// Each case is one thing an operator would act on differently (fix DNS, start the server,
/// raise a timeout, renew a certificate...), and its ``description`` says what failed, naming
/// the host and port and quoting curl's own explanation. URL credentials never appear: the
/// endpoint carries only host and port, and curl's text is scrubbed of the URL's userinfo.
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request was refused before any I/O: a header that would inject CR/LF, say.
    case invalidRequest(reason: String)
    /// The host name did not resolve (`CURLE_COULDNT_RESOLVE_HOST`).
    case dnsFailure(endpoint: HTTPEndpoint, detail: String)
    /// No connection could be made: refused, unreachable (`CURLE_COULDNT_CONNECT`).
    case connectionFailed(endpoint: HTTPEndpoint, detail: String)
    /// The connection broke mid-exchange: reset, closed before any response, send or receive
    /// failure (`CURLE_GOT_NOTHING`, `CURLE_SEND_ERROR`, `CURLE_RECV_ERROR`, HTTP/2 errors).
    case connectionLost(endpoint: HTTPEndpoint, curlCode: Int, detail: String)
    /// A limit ran out (`CURLE_OPERATION_TIMEDOUT`): `phase` says whether no connection was
    /// made within `limit` or the whole request did not finish within it.
    case timedOut(endpoint: HTTPEndpoint, phase: TimeoutPhase, limit: Duration, detail: String)
    /// The TLS handshake or certificate check failed (`CURLE_SSL_*`,
    /// `CURLE_PEER_FAILED_VERIFICATION`): a configuration problem, not a passing one.
    case tls(endpoint: HTTPEndpoint, curlCode: Int, detail: String)
    /// Fewer body bytes arrived than announced (`CURLE_PARTIAL_FILE`, or a `Content-Length`
    /// that does not match what arrived). `expected` is `nil` when the length was not announced.
    case truncatedBody(endpoint: HTTPEndpoint, expected: Int?, received: Int, detail: String)
    /// The body exceeded ``HTTPClientConfiguration/maxResponseSize`` (announced or as received).
    case responseTooLarge(endpoint: HTTPEndpoint, limit: Int)
    /// A complete response whose status the caller does not accept; thrown by
    /// ``HTTPResponse/requireSuccess(now:)``, never by the client itself. `retryAfter` is the
    /// server's `Retry-After`, measured when the error was made.
    case unsuccessfulStatus(endpoint: HTTPEndpoint, status: Int, retryAfter: Duration?)
    /// Any other curl failure, with curl's code and text (a malformed URL, say).
    case other(endpoint: HTTPEndpoint, curlCode: Int, detail: String)

    /// Which limit a ``timedOut(endpoint:phase:limit:detail:)`` hit.
    public enum TimeoutPhase: String, Sendable, Equatable {
        /// No connection (DNS, TCP, TLS) within the connect timeout.
        case connect
        /// The request as a whole did not finish within the total timeout.
        case total
    }

    /// The endpoint the failed request was for; `nil` for ``invalidRequest(reason:)``.
    public var endpoint: HTTPEndpoint? {
        switch self {
        case .invalidRequest: nil
        case .dnsFailure(let endpoint, _), .connectionFailed(let endpoint, _),
             .connectionLost(let endpoint, _, _), .timedOut(let endpoint, _, _, _), .tls(let endpoint, _, _),
             .truncatedBody(let endpoint, _, _, _), .responseTooLarge(let endpoint, _),
             .unsuccessfulStatus(let endpoint, _, _), .other(let endpoint, _, _):
            endpoint
        }
    }

    public var description: String {
        switch self {
        case .invalidRequest(let reason):
            return "invalid HTTP request: \(reason)"
        case .dnsFailure(let endpoint, let detail):
            return "could not resolve host \(endpoint.host) (for \(endpoint))" + colon(detail)
        case .connectionFailed(let endpoint, let detail):
            return "could not connect to \(endpoint)" + colon(detail)
        case .connectionLost(let endpoint, let code, let detail):
            return "connection to \(endpoint) failed mid-request (curl error \(code))" + colon(detail)
        case .timedOut(let endpoint, .connect, let limit, let detail):
            return "timed out connecting to \(endpoint): no connection within the connect timeout of \(limit.humanReadable)" + colon(detail)
        case .timedOut(let endpoint, .total, let limit, let detail):
            return "timed out waiting for \(endpoint): the request did not complete within the total timeout of \(limit.humanReadable)" + colon(detail)
        case .tls(let endpoint, let code, let detail):
            return "TLS failure with \(endpoint) (curl error \(code))" + colon(detail)
        case .truncatedBody(let endpoint, let expected, let received, let detail):
            let counts = expected.map { "received \(received) of \($0) announced bytes" } ?? "received \(received) bytes"
            return "truncated response body from \(endpoint): \(counts)" + colon(detail)
        case .responseTooLarge(let endpoint, let limit):
            return "response from \(endpoint) exceeds the limit of \(limit) bytes"
        case .unsuccessfulStatus(let endpoint, let status, let retryAfter):
            return "HTTP \(status) from \(endpoint)" + (retryAfter.map { " (Retry-After \($0.humanReadable))" } ?? "")
        case .other(let endpoint, let code, let detail):
            return "request to \(endpoint) failed (curl error \(code))" + colon(detail)
        }
    }

    private func colon(_ detail: String) -> String { detail.isEmpty ? "" : ": \(detail)" }
}

extension Duration {
    /// `500 ms`, `10 s`, `1.5 s`: how limits and waits read in messages.
    var humanReadable: String {
        let milliseconds = Int((seconds * 1000).rounded())
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
        return "\(Double(milliseconds) / 1000) s"
    }
}
