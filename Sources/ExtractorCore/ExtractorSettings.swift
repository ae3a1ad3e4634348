import Foundation
import PipelineCore
import PipelineHTTP
import PipelineRedis

/// Everything the extractor reads from the environment (see `.env.example`).
public struct ExtractorSettings: Sendable {
    public var redisURL: RedisURL
    /// The upstream users endpoint, paged with `?limit=&skip=`.
    public var usersURL: URL
    public var pageSize: Int
    /// Users per chunk (`CHUNK_USERS`): the unit the later stages work on, sealed as soon as it
    /// is full. A whole number of pages, so a chunk always ends where a page ends.
    public var chunkUsers: Int
    /// Most page requests in flight at once (``PageWindow``): enough to hide the round trip and
    /// the per-checkpoint fsync; the window starts at one and only grows while the upstream
    /// answers every request first time. Not an environment variable: a tuning constant.
    public var pagesInFlight = ExtractorSettings.defaultPagesInFlight
    public static let defaultPagesInFlight = 8
    public var httpTimeout: Duration
    /// Most users one run accepts (`MAX_USERS_PER_RUN`): an upstream `total` above it fails the
    /// run before a second page is fetched.
    public var maxUsersPerRun: Int
    /// Largest page body accepted, in bytes after decompression (`MAX_PAGE_BYTES`): the HTTP
    /// client stops reading a bigger one and the run fails.
    public var maxPageBytes: Int
    /// Largest single user object accepted, in bytes (`MAX_USER_BYTES`).
    public var maxUserBytes: Int
    public var interval: Duration
    public var retry: RetryPolicy
    public var claimTTL: Duration
    /// `INSTANCE_ID` (or a container's `HOSTNAME`): see ``PipelineCore/instanceID(from:)``.
    public var instanceID: String?
    public var staging: StagingSettings
    public var log: LogSettings

    public init(from env: Environment) throws {
        redisURL = try RedisURL(from: env)
        usersURL = try env.httpURL("DUMMYJSON_URL", default: "https://dummyjson.com/users")
        pageSize = try env.int("PAGE_SIZE", default: 100, in: 1...1000)
        chunkUsers = try env.int("CHUNK_USERS", default: 10_000, in: 1...10_000_000)
        guard chunkUsers % pageSize == 0 else {
            throw ConfigurationError(variable: "CHUNK_USERS", value: String(chunkUsers),
                                     expected: "a whole number of pages: a multiple of PAGE_SIZE (\(pageSize))")
        }
        httpTimeout = try env.seconds("HTTP_TIMEOUT_SECONDS", default: 10, in: 0.1...600)
        // Upper ends keep every sum of a skip, a page size and a count far from Int.max.
        maxUsersPerRun = try env.int("MAX_USERS_PER_RUN", default: 10_000_000, in: 1...1_000_000_000_000)
        maxPageBytes = try env.int("MAX_PAGE_BYTES", default: 33_554_432, in: 1024...1_073_741_824)
        maxUserBytes = try PipelineCore.maxUserBytes(from: env)
        interval = try env.seconds("EXTRACT_INTERVAL_SECONDS", default: 86400, in: 1...31_536_000)
        retry = try RetryPolicy(from: env)
        claimTTL = try PipelineCore.claimTTL(from: env)
        instanceID = try PipelineCore.instanceID(from: env)
        staging = try StagingSettings(from: env)
        log = try LogSettings(from: env)
    }

    /// The HTTP client settings the extractor runs with: `HTTP_TIMEOUT_SECONDS` and `MAX_PAGE_BYTES`.
    public var httpConfiguration: HTTPClientConfiguration {
        HTTPClientConfiguration(connectTimeout: min(httpTimeout, .seconds(5)), totalTimeout: httpTimeout, maxResponseSize: maxPageBytes)
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
