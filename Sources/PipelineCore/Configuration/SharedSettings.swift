import Foundation
import Logging

/// Where the log lines go and how they look (`LOG_LEVEL`, `LOG_FORMAT`).
public struct LogSettings: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable { case text, json }
    public typealias Level = Logger.Level

    public var level: Level
    public var format: Format

    public init(level: Level = .info, format: Format = .text) {
        self.level = level
        self.format = format
    }

    public static let settings: [Setting] = [.logLevel, .logFormat]

    public init(from env: SettingsReader) throws {
        self.level = try env.choice(.logLevel)
        self.format = try env.choice(.logFormat)
    }
}

extension RetryPolicy {
    /// The retry schedule from `RETRY_MAX_RETRIES`, `RETRY_BASE_DELAY_SECONDS`,
    /// `RETRY_MULTIPLIER` and `RETRY_MAX_DELAY_SECONDS` (defaults 3, 5, 3, 60).
    public init(from env: SettingsReader) throws {
        let maxRetries = try env.int(.retryMaxRetries)
        let base = try env.seconds(.retryBaseDelay)
        let multiplier = try env.double(.retryMultiplier)
        let maxDelay = try env.seconds(.retryMaxDelay)
        if maxDelay < base {
            throw ConfigurationError(
                variable: "RETRY_MAX_DELAY_SECONDS", value: env.value(.retryMaxDelay),
                expected: "a number of seconds at least RETRY_BASE_DELAY_SECONDS (\(base.seconds))")
        }
        self.init(maxRetries: maxRetries, baseDelay: base, multiplier: multiplier, maxDelay: maxDelay)
    }

    public static let settings: [Setting] = [.retryMaxRetries, .retryBaseDelay, .retryMultiplier, .retryMaxDelay]
}

/// The staging volume shared by the extractor, transformer and saver (`DATA_DIR`).
public struct StagingSettings: Sendable, Equatable {
    public var dataDirectory: String
    public var keepRuns: Int

    public init(dataDirectory: String = "./data", keepRuns: Int = 5) {
        self.dataDirectory = dataDirectory
        self.keepRuns = keepRuns
    }

    public static let settings: [Setting] = [.dataDirectory, .stagingKeepRuns]

    public init(from env: SettingsReader) throws {
        self.dataDirectory = env.string(.dataDirectory)
        self.keepRuns = try env.int(.stagingKeepRuns)
    }

    public var layout: StagingLayout { StagingLayout(dataDirectory: dataDirectory) }
}

/// How often a downstream stage re-scans the ledger for work it missed (`RECONCILE_INTERVAL_SECONDS`).
public func reconcileInterval(from env: SettingsReader) throws -> Duration {
    try env.seconds(.reconcileInterval)
}

/// How long a stage's claim on a run lives without renewal (`CLAIM_TTL_SECONDS`, default 30):
/// also how long a crashed stage's run waits before another process takes it over.
public func claimTTL(from env: SettingsReader) throws -> Duration {
    try env.seconds(.claimTTL)
}

/// Who this process is across restarts (`INSTANCE_ID`; in a container, `HOSTNAME`, which Docker
/// sets to the container's id and keeps when it restarts it): a stage restarted with the same
/// identity takes over the claims its previous life left, at once, instead of waiting for them
/// to expire. `nil` outside a container without `INSTANCE_ID`: claims are then only ever taken
/// over by expiry. Letters, digits, `.`, `_` and `-`, at most 128.
///
/// Two live processes must never share an identity (each would take the other's claims when
/// it starts); replicas under compose have distinct hostnames.
public func instanceID(from env: SettingsReader) throws -> String? {
    func valid(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }
    if let explicit = env.value(.instanceID) {
        guard valid(explicit) else {
            throw ConfigurationError(variable: "INSTANCE_ID", value: explicit,
                                     expected: "1 to 128 letters, digits, '.', '_' or '-'")
        }
        return explicit
    }
    if let hostname = env.variable("HOSTNAME"), valid(hostname) { return hostname }
    return nil
}

/// The largest user object accepted, in bytes (`MAX_USER_BYTES`, default 1 MiB): the extractor
/// fails a run whose upstream sends a bigger one, and the transformer reads `raw.jsonl` with
/// this as its longest line, so one hostile row cannot take unbounded memory in either.
public func maxUserBytes(from env: SettingsReader) throws -> Int {
    try env.int(.maxUserBytes)
}

/// `MAX_USER_BYTES`'s default, 1 MiB.
public let defaultMaxUserBytes = 1_048_576

// MARK: - The settings more than one stage reads

extension Setting {
    public static let logLevel = Setting(
        "LOG_LEVEL", .choice(LogSettings.Level.allCases.map(\.rawValue)), default: "info", help: "The least severe log line written")
    public static let logFormat = Setting(
        "LOG_FORMAT", .choice(LogSettings.Format.allCases.map(\.rawValue)), default: "text",
        help: "How log lines look: text for people, json (one object per line) for machines")
    public static let redisURL = Setting(
        "REDIS_URL", .redisURL, default: "redis://127.0.0.1:6379/0", secret: true, help: "Redis for the run ledger and signals")
    public static let claimTTL = Setting(
        "CLAIM_TTL_SECONDS", .seconds(0.1...3600), default: "30",
        help: "How long a stage's claim on a run lives without renewal (renewed every third of it while working): "
            + "also how soon another process takes over the run of a stage that died")
    public static let instanceID = Setting(
        "INSTANCE_ID", .text, default: "",
        help: "Who this stage process is across restarts (1 to 128 letters, digits, . _ -). A stage restarted with the same "
            + "identity takes over the claims its previous life left at once, instead of waiting out CLAIM_TTL_SECONDS. "
            + "Empty: the container's HOSTNAME under compose (kept across restarts of the same container); outside a "
            + "container, none (claims are then taken over only by expiry). Never give two live processes the same identity")
    public static let retryMaxRetries = Setting(
        "RETRY_MAX_RETRIES", .integer(0...100), default: "3",
        help: "Retries after the first try; the waits are RETRY_BASE_DELAY_SECONDS * RETRY_MULTIPLIER^(n-1) with jitter, "
            + "capped at RETRY_MAX_DELAY_SECONDS; a server's Retry-After header sets the wait (still capped)")
    public static let retryBaseDelay = Setting("RETRY_BASE_DELAY_SECONDS", .seconds(0...3600), default: "5", help: "The first retry's wait")
    public static let retryMultiplier = Setting("RETRY_MULTIPLIER", .number(1...100), default: "3", help: "Each further wait is this many times the last")
    public static let retryMaxDelay = Setting(
        "RETRY_MAX_DELAY_SECONDS", .seconds(0...86400), default: "60", help: "The longest wait, at least RETRY_BASE_DELAY_SECONDS")
    public static let reconcileInterval = Setting(
        "RECONCILE_INTERVAL_SECONDS", .seconds(0.05...86400), default: "30",
        help: "How often a stage re-scans the ledger for runs it missed a signal for")
    public static let dataDirectory = Setting(
        "DATA_DIR", .text, default: "./data",
        help: "Shared staging directory: runs/<run_id>/{raw,users,dlq,raw.masked}.jsonl (docs/STAGING.md)")
    public static let stagingKeepRuns = Setting(
        "STAGING_KEEP_RUNS", .integer(0...100_000), default: "5",
        help: "Finished runs (completed, failed for good, or abandoned) whose staging the saver keeps; older ones are "
            + "deleted (raw files hold secrets). A run the extractor can still resume is always kept. Staged files are "
            + "created 0600 in 0700 folders: every stage must run as the same user")
    public static let maxUserBytes = Setting(
        "MAX_USER_BYTES", .integer(64...268_435_456), default: "1048576",
        help: "Largest single user object, bytes (1 MiB): the extractor fails a run whose upstream sends a bigger one, "
            + "and the transformer refuses a longer raw.jsonl line")
    public static let secretFields = Setting(
        "SECRET_FIELDS", .text, default: SecretFields.defaultList,
        help: "Keys whose values are secrets, at any depth, any case, `_`/`-`/`.`/space ignored (docs/STAGING.md): "
            + "name[:drop|last4], `*` at either end for a prefix/suffix match. The transformer masks what it writes "
            + "and the API what it serves with the same list")
    public static let databasePath = Setting(
        "DB_PATH", .text, default: "./database/data.db", help: "SQLite database: the saver writes it, the API opens it read-only")
}
