/// The knobs of ``CurlHTTPClient``, fixed when the client is made.
///
/// Every limit is a guard against a misbehaving or hostile upstream: a server that never
/// answers must not stall a run forever, and one that streams without end must not exhaust
/// memory. The defaults suit paging through a JSON API; the extractor passes
/// `HTTP_TIMEOUT_SECONDS` as ``totalTimeout``.
public struct HTTPClientConfiguration: Sendable, Equatable {
    /// Longest wait for the connection to be established (DNS, TCP and TLS handshakes),
    /// so an unreachable host fails fast instead of eating the whole ``totalTimeout``.
    public var connectTimeout: Duration
    /// Longest time one request may take from start to the last body byte.
    public var totalTimeout: Duration
    /// Sent as `User-Agent`, so the upstream's operators can tell who is calling.
    public var userAgent: String
    /// Largest body accepted, counted after decompression (a small gzip body can expand
    /// enormously); a larger one fails with ``HTTPClientError/responseTooLarge(endpoint:limit:)``.
    public var maxResponseSize: Int
    /// Follow up to ``maxRedirects`` redirects (http and https only), so that, say, an
    /// `http://` URL that moved to `https://` still works. With `false` a 3xx is returned as is.
    public var followRedirects: Bool
    /// Upper bound on redirects followed for one request, against redirect loops.
    public var maxRedirects: Int
    /// Easy handles kept idle between requests. Each keeps its own connection alive, so this
    /// is roughly the number of connections reused; it does not limit concurrency (more
    /// handles are made when more requests are in flight, and dropped when they finish).
    public var maxIdleHandles: Int

    public init(
        connectTimeout: Duration = .seconds(10),
        totalTimeout: Duration = .seconds(30),
        userAgent: String = HTTPClientConfiguration.defaultUserAgent,
        maxResponseSize: Int = 32 * 1024 * 1024,
        followRedirects: Bool = true,
        maxRedirects: Int = 5,
        maxIdleHandles: Int = 4
    ) {
        precondition(connectTimeout > .zero, "connectTimeout must be positive")
        precondition(totalTimeout > .zero, "totalTimeout must be positive")
        precondition(maxResponseSize > 0, "maxResponseSize must be positive")
        precondition(maxRedirects >= 0, "maxRedirects must not be negative")
        precondition(maxIdleHandles >= 0, "maxIdleHandles must not be negative")
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.userAgent = userAgent
        self.maxResponseSize = maxResponseSize
        self.followRedirects = followRedirects
        self.maxRedirects = maxRedirects
        self.maxIdleHandles = maxIdleHandles
    }

    /// `etl-pipeline/1.0 (libcurl)`: names the product, not the host or the user.
    public static let defaultUserAgent = "etl-pipeline/1.0 (libcurl)"

    /// The connect limit curl actually applies: it never waits longer than the total timeout.
    var effectiveConnectTimeout: Duration { min(connectTimeout, totalTimeout) }
}
