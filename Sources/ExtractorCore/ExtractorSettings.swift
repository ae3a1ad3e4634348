import Foundation
import PipelineCore
import PipelineRedis

/// Everything the extractor reads from the environment (see `.env.example`).
public struct ExtractorSettings: Sendable {
    public var redisURL: RedisURL
    /// The upstream users endpoint, paged with `?limit=&skip=`.
    public var usersURL: URL
    public var pageSize: Int
    /// Most page requests in flight at once (``PageWindow``): enough to hide the round trip and
    /// the per-checkpoint fsync; the window starts at one and only grows while the upstream
    /// answers every request first time. Not an environment variable: a tuning constant.
    public var pagesInFlight = ExtractorSettings.defaultPagesInFlight
    public static let defaultPagesInFlight = 8
    public var httpTimeout: Duration
    public var interval: Duration
    public var retry: RetryPolicy
    public var claimTTL: Duration
    public var staging: StagingSettings
    public var log: LogSettings

    public init(from env: Environment) throws {
        redisURL = try RedisURL(from: env)
        usersURL = try env.httpURL("DUMMYJSON_URL", default: "https://dummyjson.com/users")
        pageSize = try env.int("PAGE_SIZE", default: 100, in: 1...1000)
        httpTimeout = try env.seconds("HTTP_TIMEOUT_SECONDS", default: 10, in: 0.1...600)
        interval = try env.seconds("EXTRACT_INTERVAL_SECONDS", default: 86400, in: 1...31_536_000)
        retry = try RetryPolicy(from: env)
        claimTTL = try PipelineCore.claimTTL(from: env)
        staging = try StagingSettings(from: env)
        log = try LogSettings(from: env)
    }

    /// The URL of the page starting at `skip`, keeping any query the configured URL has.
    public func pageURL(skip: Int) -> String {
        var components = URLComponents(url: usersURL, resolvingAgainstBaseURL: false)!
        var items = (components.queryItems ?? []).filter { $0.name != "limit" && $0.name != "skip" }
        items += [URLQueryItem(name: "limit", value: String(pageSize)), URLQueryItem(name: "skip", value: String(skip))]
        components.queryItems = items
        return components.string!
    }
}
