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

    public init(from env: SettingsReader) throws {
        redisURL = try RedisURL(from: env)
        usersURL = try env.httpURL(.usersURL)
        pageSize = try env.int(.pageSize)
        chunkUsers = try env.int(.chunkUsers)
        guard chunkUsers % pageSize == 0 else {
            throw ConfigurationError(variable: "CHUNK_USERS", value: String(chunkUsers),
                                     expected: "a whole number of pages: a multiple of PAGE_SIZE (\(pageSize))")
        }
        httpTimeout = try env.seconds(.httpTimeout)
        maxUsersPerRun = try env.int(.maxUsersPerRun)
        maxPageBytes = try env.int(.maxPageBytes)
        maxUserBytes = try PipelineCore.maxUserBytes(from: env)
        interval = try env.seconds(.extractInterval)
        retry = try RetryPolicy(from: env)
        claimTTL = try PipelineCore.claimTTL(from: env)
        instanceID = try PipelineCore.instanceID(from: env)
        staging = try StagingSettings(from: env)
        log = try LogSettings(from: env)
    }

    /// Every setting the extractor reads.
    public static let settings: [Setting] = [.redisURL, .usersURL, .pageSize, .chunkUsers, .httpTimeout, .maxUsersPerRun, .maxPageBytes,
                                             .maxUserBytes, .extractInterval, .claimTTL, .instanceID]
        + RetryPolicy.settings + StagingSettings.settings + LogSettings.settings

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

extension Setting {
    public static let usersURL = Setting(
        "DUMMYJSON_URL", .httpURL, default: "https://dummyjson.com/users", secret: true, example: "",
        help: "The upstream users endpoint, paged with ?limit=&skip=. Empty: the real API for the Extractor binary run by "
            + "itself, but the bundled DummyJSON fixture for scripts/run.sh (which starts it on 127.0.0.1:8090) and docker "
            + "compose (the service `dummyjson`: `docker compose --profile offline up`)")
    public static let pageSize = Setting("PAGE_SIZE", .integer(1...1000), default: "100", help: "Users per page request")
    public static let chunkUsers = Setting(
        "CHUNK_USERS", .integer(1...10_000_000), default: "10000",
        help: "Users per chunk, a multiple of PAGE_SIZE: the extractor seals a chunk as soon as it holds this many users, "
            + "and the transformer and saver start on it at once (docs/STAGING.md, \"Chunks\")")
    public static let httpTimeout = Setting("HTTP_TIMEOUT_SECONDS", .seconds(0.1...600), default: "10", help: "Per-request total timeout")
    public static let extractInterval = Setting(
        "EXTRACT_INTERVAL_SECONDS", .seconds(1...31_536_000), default: "86400",
        help: "Seconds between extraction runs (one day); `Extractor --once` runs one and exits")
    // Upper ends keep every sum of a skip, a page size and a count far from Int.max.
    public static let maxUsersPerRun = Setting(
        "MAX_USERS_PER_RUN", .integer(1...1_000_000_000_000), default: "10000000",
        help: "Most users one run accepts: an upstream `total` above it fails the run at its first page")
    public static let maxPageBytes = Setting(
        "MAX_PAGE_BYTES", .integer(1024...1_073_741_824), default: "33554432",
        help: "Largest page body accepted, bytes after decompression (32 MiB); a bigger page fails the run")
}
