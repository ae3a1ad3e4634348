import Foundation

/// A complete HTTP response: any status counts, deciding what a status means is the caller's.
public struct HTTPResponse: Sendable, Equatable {
    /// The status code of the final response (after redirects, if followed).
    public var status: Int
    /// The final response's header fields (those of redirects and `100 Continue` are dropped).
    public var headers: HTTPHeaders
    /// The body exactly as delivered, already decompressed when the server compressed it.
    public var body: [UInt8]
    /// Time from the start of the transfer to its last byte, for logs and throughput figures.
    public var elapsed: Duration
    /// Where the request went, for messages about this response.
    public var endpoint: HTTPEndpoint

    public init(status: Int, headers: HTTPHeaders, body: [UInt8], elapsed: Duration, endpoint: HTTPEndpoint) {
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed
        self.endpoint = endpoint
    }

    /// Whether the status is 2xx.
    public var isSuccess: Bool { (200...299).contains(status) }

    /// The wait the server asked for in `Retry-After`, measured from `now`.
    ///
    /// Both forms are understood: delta-seconds (`Retry-After: 7` is 7 s) and an HTTP-date
    /// (the time until then; a date already past gives zero). `nil` when the field is absent
    /// or malformed, so the caller falls back to its own backoff.
    public func retryAfter(now: Date = Date()) -> Duration? {
        headers["Retry-After"].flatMap { RetryAfter.wait($0, now: now) }
    }
}
