import DummyJSONFixture
import ExtractorCore
import Foundation
import Logging
import PipelineCore
import PipelineHTTP
import PipelineRedis
import PipelineRuntime
import Synchronization
import Testing
import TestSupport

/// Every extractor suite shares Redis database 5 and flushes it per test, so they run one at a time.
@Suite(.serialized) struct ExtractorSuites {}

/// Shared set-up for the extractor's tests: Redis database 5 (no other suite scans it), a
/// staging directory per test, and the fixture upstream on an ephemeral 127.0.0.1 port.
enum ExtractorTest {
    static let redisURL = RedisTestServer.url(database: 5)

    static func redis() throws -> RedisClient {
        RedisClient(url: try RedisURL(redisURL), connectTimeout: .seconds(2), commandTimeout: .seconds(5))
    }

    /// The environment a test extractor runs with: fast retries unless overridden.
    static func environment(port: Int, dataDir: String, _ overrides: [String: String] = [:]) -> [String: String] {
        [
            "REDIS_URL": redisURL,
            "DUMMYJSON_URL": "http://127.0.0.1:\(port)/users",
            "PAGE_SIZE": "100",
            "HTTP_TIMEOUT_SECONDS": "5",
            "RETRY_MAX_RETRIES": "3",
            "RETRY_BASE_DELAY_SECONDS": "0.02",
            "RETRY_MULTIPLIER": "3",
            "RETRY_MAX_DELAY_SECONDS": "2",
            "DATA_DIR": dataDir,
            "LOG_LEVEL": "warning",
        ].merging(overrides) { _, new in new }
    }

    static func fixture(users: Int, badFraction: Double = 0, faults: FaultSettings = .none) throws -> FixtureConfiguration {
        var configuration = try FixtureConfiguration(environment: [:])
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.users = users
        configuration.badFraction = badFraction
        configuration.faults = faults
        configuration.logLevel = .error
        return configuration
    }

    /// What raw.jsonl must hold: every user the fixture serves, as served, one per line.
    static func expectedRaw(_ users: FixtureUsers) -> [UInt8] {
        var bytes: [UInt8] = []
        for index in 0..<users.count {
            bytes += users.userBytes(at: index)
            bytes.append(0x0A)
        }
        return bytes
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Every sealed chunk's `raw.jsonl` of the run, in chunk order: the run's raw rows.
    static func stagedRaw(_ dataDir: String, _ id: RunID) throws -> [UInt8] {
        let layout = StagingLayout(dataDirectory: dataDir)
        var out: [UInt8] = []
        var index = 0
        while FileManager.default.fileExists(atPath: layout.chunkFile(id, index, .raw)) {
            out += try readFile(layout.chunkFile(id, index, .raw))
            index += 1
        }
        return out
    }

    /// Records the waits the retry loop takes, and really waits (the fixture's rate window must pass).
    final class Sleeps: Sendable {
        let waits = Mutex<[Duration]>([])
        var recorded: [Duration] { waits.withLock { $0 } }
        func sleep(_ duration: Duration) async throws {
            waits.withLock { $0.append(duration) }
            try await Task.sleep(for: duration)
        }
    }

    static func extraction(_ env: [String: String], sleeps: Sleeps = Sleeps()) throws -> (Extraction, RunLedger) {
        let settings = try ExtractorSettings(from: SettingsReader(env))
        let redis = try redis()
        var configuration = settings.httpConfiguration
        configuration.connectTimeout = .seconds(2)
        let http = CurlHTTPClient(configuration: configuration)
        var logger = Logger(label: "extractor-test")
        logger.logLevel = .warning
        return (Extraction(settings: settings, http: http, redis: redis, logger: logger, sleep: { try await sleeps.sleep($0) }),
                RunLedger(redis: redis))
    }

    /// The `Extractor` executable built beside the tests.
    static var binary: String { "\(repositoryRoot)/.build/debug/Extractor" }

    /// Starts the real extractor as a child process with `env` over this test process's
    /// environment; its output goes to `log`.
    static func launch(_ arguments: [String], env: [String: String], log: String) throws -> ChildProcess {
        // Not HOSTNAME: in a container it would give every test extractor the same instance
        // identity (INSTANCE_ID), and a start would take over the claims of one still running.
        let environment = ProcessInfo.processInfo.environment.filter { $0.key != "HOSTNAME" }.merging(env) { _, new in new }
        return try ChildProcess(name: "extractor", executable: binary, arguments: arguments, environment: environment, logPath: log)
    }

    /// What one `Extractor --once` did: its exit status, whether it exited (rather than died by
    /// a signal), its log and how long it took.
    struct Once {
        var status: Int32, exited: Bool, log: String, elapsed: Duration
        var lines: [Substring] { log.split(separator: "\n") }
    }

    /// Runs `Extractor --once` with `env` to its end (at most `limit`), its output in `log`.
    static func once(_ env: [String: String], log: String, limit: Duration = .seconds(60)) async throws -> Once {
        let started = ContinuousClock.now
        let process = try launch(["--once"], env: env, log: log)
        let status = try await wait(process, limit: limit)
        return Once(status: status, exited: process.terminationReason == .exit,
                    log: try String(contentsOfFile: log, encoding: .utf8), elapsed: ContinuousClock.now - started)
    }

    /// A raw upstream answering every page request with `body(target)` as JSON.
    static func upstream(_ body: @escaping @Sendable (_ target: String) -> String) throws -> HTTPTestServer {
        try HTTPTestServer { request in
            .send(HTTPTestServer.response(headers: [("Content-Type", "application/json")], body: Array(body(request.target).utf8)))
        }
    }

    /// Waits for `process` to exit, at most `limit`; kills it and records an issue otherwise.
    static func wait(_ process: ChildProcess, limit: Duration) async throws -> Int32 {
        if let status = await process.exitStatus(within: limit) { return status }
        Issue.record("process \(process.pid) did not exit within \(limit)")
        return process.exitStatus ?? -1
    }
}

extension Array where Element == StagedFile {
    /// Rows in all the files.
    var rows: Int { reduce(0) { $0 + $1.rows } }
}
