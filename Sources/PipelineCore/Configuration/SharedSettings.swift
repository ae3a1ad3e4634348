import Foundation

/// Where the log lines go and how they look (`LOG_LEVEL`, `LOG_FORMAT`).
public struct LogSettings: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable { case text, json }
    public enum Level: String, Sendable, CaseIterable { case trace, debug, info, notice, warning, error, critical }

    public var level: Level
    public var format: Format

    public init(level: Level = .info, format: Format = .text) {
        self.level = level
        self.format = format
    }

    public init(from env: Environment) throws {
        self.level = try env.choice("LOG_LEVEL", default: Level.info)
        self.format = try env.choice("LOG_FORMAT", default: Format.text)
    }
}

extension RetryPolicy {
    /// The retry schedule from `RETRY_MAX_RETRIES`, `RETRY_BASE_DELAY_SECONDS`,
    /// `RETRY_MULTIPLIER` and `RETRY_MAX_DELAY_SECONDS` (defaults 3, 5, 3, 60).
    public init(from env: Environment) throws {
        let maxRetries = try env.int("RETRY_MAX_RETRIES", default: 3, in: 0...100)
        let base = try env.seconds("RETRY_BASE_DELAY_SECONDS", default: 5, in: 0...3600)
        let multiplier = try env.double("RETRY_MULTIPLIER", default: 3, in: 1...100)
        let maxDelay = try env.seconds("RETRY_MAX_DELAY_SECONDS", default: 60, in: 0...86400)
        if maxDelay < base {
            throw ConfigurationError(
                variable: "RETRY_MAX_DELAY_SECONDS", value: env.raw("RETRY_MAX_DELAY_SECONDS"),
                expected: "a number of seconds at least RETRY_BASE_DELAY_SECONDS (\(base.seconds))")
        }
        self.init(maxRetries: maxRetries, baseDelay: base, multiplier: multiplier, maxDelay: maxDelay)
    }
}

/// The staging volume shared by the extractor, transformer and saver (`DATA_DIR`).
public struct StagingSettings: Sendable, Equatable {
    public var dataDirectory: String
    public var keepRuns: Int

    public init(dataDirectory: String = "./data", keepRuns: Int = 5) {
        self.dataDirectory = dataDirectory
        self.keepRuns = keepRuns
    }

    public init(from env: Environment) throws {
        self.dataDirectory = env.string("DATA_DIR", default: "./data")
        self.keepRuns = try env.int("STAGING_KEEP_RUNS", default: 5, in: 0...100_000)
    }

    public var layout: StagingLayout { StagingLayout(dataDirectory: dataDirectory) }
}

/// How often a downstream stage re-scans the ledger for work it missed (`RECONCILE_INTERVAL_SECONDS`).
public func reconcileInterval(from env: Environment) throws -> Duration {
    try env.seconds("RECONCILE_INTERVAL_SECONDS", default: 30, in: 0.05...86400)
}

/// How long a stage's claim on a run lives without renewal (`CLAIM_TTL_SECONDS`, default 30):
/// also how long a crashed stage's run waits before another process takes it over.
public func claimTTL(from env: Environment) throws -> Duration {
    try env.seconds("CLAIM_TTL_SECONDS", default: 30, in: 0.1...3600)
}

/// Who this process is across restarts (`INSTANCE_ID`; in a container, `HOSTNAME`, which Docker
/// sets to the container's id and keeps when it restarts it): a stage restarted with the same
/// identity takes over the claims its previous life left, at once, instead of waiting for them
/// to expire. `nil` outside a container without `INSTANCE_ID`: claims are then only ever taken
/// over by expiry. Letters, digits, `.`, `_` and `-`, at most 128.
///
/// Two live processes must never share an identity (each would take the other's claims when
/// it starts); replicas under compose have distinct hostnames.
public func instanceID(from env: Environment) throws -> String? {
    func valid(_ text: String) -> Bool {
        (1...128).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }
    if let explicit = env.raw("INSTANCE_ID"), !explicit.isEmpty {
        guard valid(explicit) else {
            throw ConfigurationError(variable: "INSTANCE_ID", value: explicit,
                                     expected: "1 to 128 letters, digits, '.', '_' or '-'")
        }
        return explicit
    }
    if let hostname = env.raw("HOSTNAME"), valid(hostname) { return hostname }
    return nil
}

/// The largest user object accepted, in bytes (`MAX_USER_BYTES`, default 1 MiB): the extractor
/// fails a run whose upstream sends a bigger one, and the transformer reads `raw.jsonl` with
/// this as its longest line, so one hostile row cannot take unbounded memory in either.
public func maxUserBytes(from env: Environment) throws -> Int {
    try env.int("MAX_USER_BYTES", default: 1_048_576, in: 64...268_435_456)
}

/// `MAX_USER_BYTES`'s default, 1 MiB.
public let defaultMaxUserBytes = 1_048_576
