import ArgumentParser
import DummyJSONFixture
import Foundation
import Hummingbird
import Logging

/// `DummyJSON`: serves DummyJSON-compatible `/users` on loopback, with bad rows and faults.
/// Settings come from the defaults, then `FIXTURE_*` variables, then these flags.
@main
struct DummyJSONCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dummyjson",
        abstract: "DummyJSON-compatible /users fixture server with bad rows and fault injection.",
        discussion: """
            Every flag can also be set by an environment variable (the flag wins):
            \(FixtureConfiguration.environmentVariables.map { "  \($0.name): \($0.meaning)" }.joined(separator: "\n"))

            Control API: GET|PUT|PATCH /_fixture/faults (PUT replaces, PATCH merges a JSON object \
            of fault settings), GET /_fixture/stats, POST /_fixture/reset, GET /_fixture/info, \
            GET /_fixture/bad-rows, GET /_fixture/hostile.
            """
    )

    @Option(help: "Address to listen on (default 127.0.0.1; FIXTURE_HOST).")
    var host: String?

    @Option(help: "Port, 0 for a free one (default 8080; FIXTURE_PORT).")
    var port: Int?

    @Option(help: "Number of users (default 208; FIXTURE_USERS).")
    var users: Int?

    @Option(help: "Generation seed (default 1; FIXTURE_SEED).")
    var seed: UInt64?

    @Option(help: "Fraction of invalid users, 0...1 (default 0; FIXTURE_BAD_FRACTION).")
    var badFraction: Double?

    @Option(help: "Every K-th /users request answers 503 (0: off; FIXTURE_FAIL_EVERY).")
    var failEvery: Int?

    @Option(help: "Requests per window before 429 (0: off; FIXTURE_RATE_LIMIT).")
    var rateLimit: Int?

    @Option(help: "Rate-limit window in seconds (default 10; FIXTURE_RATE_WINDOW_SECONDS).")
    var rateWindowSeconds: Double?

    @Option(help: "Retry-After seconds of a 429 (default 10; FIXTURE_RETRY_AFTER_SECONDS).")
    var retryAfterSeconds: Int?

    @Option(help: "Milliseconds added to every /users response (FIXTURE_DELAY_MS).")
    var delayMs: Int?

    @Option(help: "Comma-separated request numbers cut off mid-body (FIXTURE_TRUNCATE_REQUESTS).")
    var truncateRequests: String?

    @Option(help: "Comma-separated request numbers answered with invalid JSON (FIXTURE_MALFORMED_REQUESTS).")
    var malformedRequests: String?

    @Option(help: "After this many requests the total grows (FIXTURE_TOTAL_CHANGE_AFTER).")
    var totalChangeAfter: Int?

    @Option(help: "How many users the total grows by (default 5; FIXTURE_TOTAL_CHANGE_BY).")
    var totalChangeBy: Int?

    @Option(help: "Every page reports this total, whatever the data holds (FIXTURE_REPORT_TOTAL).")
    var reportTotal: Int?

    @Flag(help: "Every /users request answers 503, an upstream outage (FIXTURE_DOWN).")
    var down = false

    @Flag(help: "A hostile upstream: secrets planted under unusual keys, depths and escapes, rows that are not objects, log-injection text; pages stay valid JSON (FIXTURE_HOSTILE). GET /_fixture/hostile lists the planted secrets.")
    var hostile = false

    @Option(name: .customLong("invalid-utf8-users"), help: "Comma-separated user ids served with a non-UTF-8 byte after a planted secret: their pages are invalid JSON (FIXTURE_INVALID_UTF8_USERS).")
    var invalidUTF8Users: String?

    @Option(help: "Comma-separated user ids served with a NaN number after a planted secret: their pages are invalid JSON (FIXTURE_NAN_USERS).")
    var nanUsers: String?

    @Option(help: "Log level: trace, debug (one line per request), info (one per fault), … (FIXTURE_LOG_LEVEL).")
    var logLevel: String?

    func run() async throws {
        let config: FixtureConfiguration
        do {
            config = try resolvedConfiguration(environment: ProcessInfo.processInfo.environment)
        } catch let error as FixtureConfigurationError {
            throw ValidationError(error.message)
        }

        let level = config.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "dummyjson-fixture")
        logger.logLevel = level

        let server = try FixtureServer(configuration: config, logger: logger)
        let app = server.makeApplication { port in
            // The one line a parent process waits for; stdout, unbuffered.
            FileHandle.standardOutput.write(Data((server.listeningLine(port: port) + "\n").utf8))
        }
        try await app.runService()
    }

    func resolvedConfiguration(environment: [String: String]) throws -> FixtureConfiguration {
        var config = try FixtureConfiguration(environment: environment)
        if let host { config.host = host }
        if let port { config.port = port }
        if let users { config.users = users }
        if let seed { config.seed = seed }
        if let badFraction { config.badFraction = badFraction }
        if let failEvery { config.faults.failEvery = failEvery }
        if let rateLimit { config.faults.rateLimit = rateLimit }
        if let rateWindowSeconds { config.faults.rateWindowSeconds = rateWindowSeconds }
        if let retryAfterSeconds { config.faults.retryAfterSeconds = retryAfterSeconds }
        if let delayMs { config.faults.delayMs = delayMs }
        if let truncateRequests { config.faults.truncateRequests = try FixtureConfiguration.parseRequestList(truncateRequests) }
        if let malformedRequests { config.faults.malformedRequests = try FixtureConfiguration.parseRequestList(malformedRequests) }
        if let totalChangeAfter { config.faults.totalChangeAfter = totalChangeAfter }
        if let totalChangeBy { config.faults.totalChangeBy = totalChangeBy }
        if let reportTotal { config.faults.reportTotal = reportTotal }
        if down { config.faults.down = true }
        if hostile { config.faults.hostile = true }
        if let invalidUTF8Users { config.faults.invalidUTF8Users = try FixtureConfiguration.parseRequestList(invalidUTF8Users) }
        if let nanUsers { config.faults.nanUsers = try FixtureConfiguration.parseRequestList(nanUsers) }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
                throw FixtureConfigurationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; got '\(logLevel)'")
            }
            config.logLevel = level
        }
        try config.validate()
        return config
    }
}
