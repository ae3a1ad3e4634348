import Logging

/// Everything the fixture is started with. Built from defaults, then `FIXTURE_*` environment
/// variables (`init(environment:)`), then command-line flags (the `DummyJSON` executable).
public struct FixtureConfiguration: Sendable, Equatable {
    public var host: String
    /// 0 picks a free port (reported through `onServerRunning` and the listening line).
    public var port: Int
    /// Number of users (`total`).
    public var users: Int
    public var seed: UInt64
    /// Fraction of users that are invalid, 0...1.
    public var badFraction: Double
    public var faults: FaultSettings
    public var logLevel: Logger.Level

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        users: Int = 208,
        seed: UInt64 = 1,
        badFraction: Double = 0,
        faults: FaultSettings = .none,
        logLevel: Logger.Level = .info
    ) {
        self.host = host
        self.port = port
        self.users = users
        self.seed = seed
        self.badFraction = badFraction
        self.faults = faults
        self.logLevel = logLevel
    }

    /// The environment variables read by `init(environment:)`, with what they set.
    public static let environmentVariables: [(name: String, meaning: String)] = [
        ("FIXTURE_HOST", "address to listen on (127.0.0.1)"),
        ("FIXTURE_PORT", "port, 0 for a free one (8080)"),
        ("FIXTURE_USERS", "number of users (208)"),
        ("FIXTURE_SEED", "generation seed (1)"),
        ("FIXTURE_BAD_FRACTION", "fraction of invalid users, 0...1 (0)"),
        ("FIXTURE_FAIL_EVERY", "every K-th /users request answers 503 (0: off)"),
        ("FIXTURE_RATE_LIMIT", "requests per window before 429 (0: off)"),
        ("FIXTURE_RATE_WINDOW_SECONDS", "rate-limit window in seconds (10)"),
        ("FIXTURE_RETRY_AFTER_SECONDS", "Retry-After of a 429 (10)"),
        ("FIXTURE_DELAY_MS", "delay added to every /users response (0)"),
        ("FIXTURE_TRUNCATE_REQUESTS", "comma-separated request numbers cut off mid-body"),
        ("FIXTURE_MALFORMED_REQUESTS", "comma-separated request numbers answered with invalid JSON"),
        ("FIXTURE_TOTAL_CHANGE_AFTER", "after this many requests total grows (off)"),
        ("FIXTURE_TOTAL_CHANGE_BY", "how many users the total grows by (5)"),
        ("FIXTURE_DOWN", "1/true: every /users request answers 503 (false)"),
        ("FIXTURE_REPORT_TOTAL", "every page reports this total, whatever the data holds (off)"),
        ("FIXTURE_HOSTILE", "1/true: a hostile upstream: planted secrets, non-object rows, log injection (false)"),
        ("FIXTURE_INVALID_UTF8_USERS", "comma-separated user ids served with a non-UTF-8 byte after a planted secret"),
        ("FIXTURE_NAN_USERS", "comma-separated user ids served with a NaN number after a planted secret"),
        ("FIXTURE_LOG_LEVEL", "trace, debug, info, notice, warning, error, critical (info)"),
    ]

    /// Defaults overridden by the `FIXTURE_*` variables present (an empty value counts as
    /// absent). A malformed value is an error naming the variable.
    public init(environment: [String: String]) throws {
        self.init()
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingSpaces, !raw.isEmpty else { return nil }
            return raw
        }
        func int(_ name: String) throws -> Int? {
            guard let raw = value(name) else { return nil }
            guard let v = Int(raw) else { throw FixtureConfigurationError("\(name) must be an integer, got '\(raw)'") }
            return v
        }
        func double(_ name: String) throws -> Double? {
            guard let raw = value(name) else { return nil }
            guard let v = Double(raw), v.isFinite else { throw FixtureConfigurationError("\(name) must be a number, got '\(raw)'") }
            return v
        }
        func list(_ name: String) throws -> [Int]? {
            guard let raw = value(name) else { return nil }
            do {
                return try FixtureConfiguration.parseRequestList(raw)
            } catch {
                throw FixtureConfigurationError("\(name): \(error)")
            }
        }

        if let v = value("FIXTURE_HOST") { host = v }
        if let v = try int("FIXTURE_PORT") { port = v }
        if let v = try int("FIXTURE_USERS") { users = v }
        if let raw = value("FIXTURE_SEED") {
            guard let v = UInt64(raw) else { throw FixtureConfigurationError("FIXTURE_SEED must be a non-negative integer, got '\(raw)'") }
            seed = v
        }
        if let v = try double("FIXTURE_BAD_FRACTION") { badFraction = v }
        if let v = try int("FIXTURE_FAIL_EVERY") { faults.failEvery = v }
        if let v = try int("FIXTURE_RATE_LIMIT") { faults.rateLimit = v }
        if let v = try double("FIXTURE_RATE_WINDOW_SECONDS") { faults.rateWindowSeconds = v }
        if let v = try int("FIXTURE_RETRY_AFTER_SECONDS") { faults.retryAfterSeconds = v }
        if let v = try int("FIXTURE_DELAY_MS") { faults.delayMs = v }
        if let v = try list("FIXTURE_TRUNCATE_REQUESTS") { faults.truncateRequests = v }
        if let v = try list("FIXTURE_MALFORMED_REQUESTS") { faults.malformedRequests = v }
        if let v = try int("FIXTURE_TOTAL_CHANGE_AFTER") { faults.totalChangeAfter = v }
        if let v = try int("FIXTURE_TOTAL_CHANGE_BY") { faults.totalChangeBy = v }
        if let v = try int("FIXTURE_REPORT_TOTAL") { faults.reportTotal = v }
        func bool(_ name: String) throws -> Bool? {
            guard let raw = value(name) else { return nil }
            switch raw.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw FixtureConfigurationError("\(name) must be true or false, got '\(raw)'")
            }
        }
        if let v = try bool("FIXTURE_DOWN") { faults.down = v }
        if let v = try bool("FIXTURE_HOSTILE") { faults.hostile = v }
        if let v = try list("FIXTURE_INVALID_UTF8_USERS") { faults.invalidUTF8Users = v }
        if let v = try list("FIXTURE_NAN_USERS") { faults.nanUsers = v }
        if let raw = value("FIXTURE_LOG_LEVEL") {
            guard let level = Logger.Level(rawValue: raw.lowercased()) else {
                throw FixtureConfigurationError("FIXTURE_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical; got '\(raw)'")
            }
            logLevel = level
        }
        try validate()
    }

    /// "3,7, 12" → [3, 7, 12].
    public static func parseRequestList(_ text: String) throws -> [Int] {
        try text.split(whereSeparator: { $0 == "," || $0 == " " }).map { part in
            guard let n = Int(part), n >= 1 else {
                throw FixtureConfigurationError("request numbers are integers from 1, got '\(part)'")
            }
            return n
        }
    }

    public func validate() throws {
        guard !host.isEmpty else { throw FixtureConfigurationError("host must not be empty") }
        guard (0...65535).contains(port) else { throw FixtureConfigurationError("port must be 0...65535, got \(port)") }
        _ = try FixtureUsers(count: users, seed: seed, badFraction: badFraction)
        try faults.validate()
    }
}
