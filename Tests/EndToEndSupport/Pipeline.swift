import Foundation
import GRDB
import PipelineCore
import PipelineDatabase
import PipelineRedis
import PipelineRuntime
import Synchronization
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One end-to-end world, as a user runs the pipeline: a redis-server and an OpenSSH SFTP server
/// of its own on 127.0.0.1 (started by the project's scripts), the DummyJSON fixture as the
/// upstream, and the four stages as separate processes of the binaries `swift build --build-tests`
/// made, sharing a staging directory and a SQLite file in a temporary directory.
///
/// ``run(users:fixture:_:)`` starts the servers, runs the test and stops everything it started,
/// whether the test passed, failed or threw; on a failure it prints the tail of every log.
///
/// Ports (all on 127.0.0.1): Redis `TEST_E2E_REDIS_PORT` (default 16389) and SFTP
/// `TEST_E2E_SFTP_PORT` (default 12230), which no other suite uses, because the chaos tests stop
/// and restart them; the fixture and the API get free ports. `E2E_BIN_DIR` runs other binaries
/// (the release build, say) than `.build/debug`, `E2E_FIXTURE_BIN` another build's DummyJSON.
package final class Pipeline: Sendable {
    /// The users the fixture serves in every scenario, 5% of them invalid, paged 100 at a time:
    /// 50 pages, enough for a kill to land mid-pagination and mid-file.
    package static let users = 5_000
    package static let badFraction = 0.05
    package static let pageSize = 100
    /// Five chunks a run: every scenario meets a run mid-chunk, with chunks before and after.
    package static let chunkUsers = 1_000

    package static let binDirectory = ProcessInfo.processInfo.environment["E2E_BIN_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        ?? repositoryRoot + "/.build/debug"
    package static let redisPort = ProcessInfo.processInfo.environment["TEST_E2E_REDIS_PORT"].flatMap { Int($0) } ?? 16389
    package static let sftpPort = ProcessInfo.processInfo.environment["TEST_E2E_SFTP_PORT"].flatMap { Int($0) } ?? 12230
    package static let fixtureBinary = ProcessInfo.processInfo.environment["E2E_FIXTURE_BIN"].map { $0 + "/DummyJSON" }
        ?? binDirectory + "/DummyJSON"

    /// Short intervals, so a crashed stage's claim expires in seconds and a missed signal is found
    /// within one. The benchmark passes none: the stages then run with a deployment's defaults.
    package static let testTimings = [
        "CHUNK_USERS": String(chunkUsers),
        "HTTP_TIMEOUT_SECONDS": "5",
        "RETRY_MAX_RETRIES": "4",
        "RETRY_BASE_DELAY_SECONDS": "0.2",
        "RETRY_MULTIPLIER": "2",
        "RETRY_MAX_DELAY_SECONDS": "2",
        "EXTRACT_INTERVAL_SECONDS": "86400",
        "RECONCILE_INTERVAL_SECONDS": "1",
        "CLAIM_TTL_SECONDS": "3",
        "STAGING_KEEP_RUNS": "5",
    ]

    package enum Stage: String, CaseIterable, Sendable {
        case extractor = "Extractor", transformer = "Transformer", saver = "Saver", api = "API"
        package var binary: String { Pipeline.binDirectory + "/" + rawValue }
    }

    package let directory = TemporaryDirectory("e2e")
    package let users: Int
    package let sftp = SFTPTestServer(port: Pipeline.sftpPort)
    package let fixturePort: Int
    package let apiPort: Int
    package let redis: RedisClient
    private let processes = Mutex<[ChildProcess]>([])
    /// With ``run(users:fixture:encrypted:test:_:)``'s `encrypted`: the age identity (made by
    /// age-keygen in the test's directory) whose public key every stage gets as
    /// `SFTP_ENCRYPT_RECIPIENTS`, so the saver uploads `.age` files.
    package let ageIdentity: String?
    private let ageRecipient = Mutex<String?>(nil)
    private let timings: [String: String]
    /// When set, every stage runs under `perf record -g`, its profile in `<perf>/<name>-<users>.data`.
    private let perf: String?

    package var dataDirectory: String { directory.file("data") }
    package var layout: StagingLayout { StagingLayout(dataDirectory: dataDirectory) }

    /// One kind of staged file of every chunk of `run` that has it, in chunk order, concatenated:
    /// what the run staged as a whole.
    package func staged(_ run: RunID, _ file: ChunkFile) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while let data = FileManager.default.contents(atPath: layout.chunkFile(run, index, file)) {
            out += data
            index += 1
        }
        return out
    }
    package var databasePath: String { directory.file("database/data.db") }
    package var logsDirectory: String { directory.file("logs") }
    package var knownHostsPath: String { directory.file("known_hosts") }
    package var ledger: RunLedger { RunLedger(redis: redis) }
    package var redisURL: String { "redis://127.0.0.1:\(Self.redisPort)/0" }
    package var fixtureURL: String { "http://127.0.0.1:\(fixturePort)" }
    package var apiURL: String { "http://127.0.0.1:\(apiPort)" }
    /// `SFTP_REMOTE_DIR` (`upload`) as the server keeps it on disk.
    package var uploadDirectory: String { sftp.uploadDirectoryOnDisk }

    private init(users: Int, encrypted: Bool, timings: [String: String], perf: String?) throws {
        self.users = users
        self.timings = timings
        self.perf = perf
        ageIdentity = encrypted ? directory.file("age-identity.txt") : nil
        fixturePort = try freePort()
        apiPort = try freePort()
        redis = RedisClient(url: try RedisURL("redis://127.0.0.1:\(Self.redisPort)/0"), connectTimeout: .seconds(2), commandTimeout: .seconds(5))
        for path in [dataDirectory, logsDirectory, directory.file("database")] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
    }

    /// Starts the servers and the fixture (`fixture` holds extra flags, e.g. `--delay-ms 20`), runs
    /// `body`, and stops every process and server it started, also when `body` fails.
    ///
    /// The processes' logs are kept afterwards in `.run/e2e-logs/<test function>/`, for a look at
    /// what each stage said when an expectation failed.
    package static func run<T>(
        users: Int = Pipeline.users, fixture: [String] = [], encrypted: Bool = false,
        timings: [String: String] = Pipeline.testTimings, perf: String? = nil, test: String = #function,
        _ body: (Pipeline) async throws -> T
    ) async throws -> T {
        let pipeline = try Pipeline(users: users, encrypted: encrypted, timings: timings, perf: perf)
        defer { pipeline.keepLogs(as: test) }
        do {
            if let identity = pipeline.ageIdentity {
                let recipient = try await AgeTool.makeIdentity(at: identity)
                pipeline.ageRecipient.withLock { $0 = recipient }
            }
            try await pipeline.startServers(fixture: fixture)
            let result = try await body(pipeline)
            await pipeline.shutdown()
            return result
        } catch {
            pipeline.printLogs()
            await pipeline.shutdown()
            throw error
        }
    }

    private func keepLogs(as test: String) {
        let name = test.prefix { $0 != "(" }
        let kept = repositoryRoot + "/.run/e2e-logs/" + name
        try? FileManager.default.removeItem(atPath: kept)
        try? FileManager.default.createDirectory(atPath: repositoryRoot + "/.run/e2e-logs", withIntermediateDirectories: true)
        try? FileManager.default.copyItem(atPath: logsDirectory, toPath: kept)
    }

    // MARK: Servers

    private func startServers(fixture: [String]) async throws {
        try await RedisTestServer.start(port: Self.redisPort)
        _ = try await redis.send("FLUSHALL")
        try await sftp.start()
        try sftp.writeKnownHosts(to: knownHostsPath)
        // A fresh `upload/`: what a scenario finds there afterwards is what it uploaded.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: uploadDirectory)) ?? [] {
            try FileManager.default.removeItem(atPath: uploadDirectory + "/" + name)
        }
        let process = try ChildProcess(
            name: "dummyjson", executable: Self.fixtureBinary,
            arguments: ["--host", "127.0.0.1", "--port", String(fixturePort), "--users", String(users),
                        "--bad-fraction", String(Self.badFraction), "--seed", "1"] + fixture,
            environment: [:], logPath: logsDirectory + "/dummyjson.log")
        processes.withLock { $0.append(process) }
        guard try await eventually(within: .seconds(30), { try await self.fixtureAnswers() }) else {
            throw ChildProcessError("the fixture did not answer on \(fixtureURL) within 30 s")
        }
    }

    private func fixtureAnswers() async throws -> Bool {
        let output = try await ChildProcess.run("curl", ["-fsS", "--max-time", "2", fixtureURL + "/_fixture/info"])
        return output.status == 0
    }

    /// Stops every process still running (SIGTERM, then SIGKILL), then the servers.
    package func shutdown() async {
        for process in processes.withLock({ $0 }).reversed() where process.isRunning {
            await process.stop(grace: .seconds(5))
        }
        redis.close()
        try? await sftp.stop()
        try? await RedisTestServer.stop(port: Self.redisPort)
    }

    deinit {
        // A test that crashed past `run` still leaves no process behind.
        for process in processes.withLock({ $0 }) { process.killNow() }
    }

    /// Every process started so far, in order.
    package var children: [ChildProcess] { processes.withLock { $0 } }

    package func printLogs() {
        for process in processes.withLock({ $0 }) {
            print("----- \(process.name) (\(process.logPath)) -----\n\(process.tail())")
        }
    }

    // MARK: Stages

    /// The environment every stage gets: the contract's variables and the run's timings.
    package func environment(_ overrides: [String: String] = [:]) -> [String: String] {
        [
            "REDIS_URL": redisURL,
            "DUMMYJSON_URL": fixtureURL + "/users",
            "PAGE_SIZE": String(Self.pageSize),
            "DATA_DIR": dataDirectory,
            "DB_PATH": databasePath,
            "SFTP_HOST": "127.0.0.1",
            "SFTP_PORT": String(sftp.port),
            "SFTP_USER": sftp.user,
            "SFTP_KEY_PATH": sftp.privateKeyPath,
            "SFTP_KNOWN_HOSTS": knownHostsPath,
            "SFTP_REMOTE_DIR": "upload",
            "API_HOST": "127.0.0.1",
            "API_PORT": String(apiPort),
            "LOG_LEVEL": "info",
            "LOG_FORMAT": "text",
        ].merging(timings) { $1 }
            .merging(ageRecipient.withLock { $0 }.map { ["SFTP_ENCRYPT_RECIPIENTS": $0] } ?? [:]) { $1 }
            .merging(overrides) { $1 }
    }

    /// Starts `stage` as a process named `name` (its log: `logs/<name>.log`).
    @discardableResult
    package func start(_ stage: Stage, as name: String? = nil, _ arguments: [String] = [], environment overrides: [String: String] = [:]) throws -> ChildProcess {
        let name = name ?? stage.rawValue.lowercased()
        let profile = perf.map { ["record", "-q", "-F", "999", "-g", "-o", "\($0)/\(name)-\(users).data", "--", stage.binary] }
        let process = try ChildProcess(
            name: name, executable: profile == nil ? stage.binary : "/usr/bin/perf", arguments: (profile ?? []) + arguments,
            environment: environment(overrides),
            logPath: logsDirectory + "/\(name).log")
        processes.withLock { $0.append(process) }
        return process
    }

    /// The API, the saver and the transformer: the stages that wait for work.
    package func startDownstream() async throws {
        try await startAPI()
        try start(.saver)
        try start(.transformer)
    }

    /// Starts the API and waits until `/health` answers.
    @discardableResult
    package func startAPI(as name: String? = nil) async throws -> ChildProcess {
        let api = try start(.api, as: name)
        guard try await eventually(within: .seconds(30), {
            try await ChildProcess.run("curl", ["-fsS", "--max-time", "2", self.apiURL + "/health"]).status == 0
        }) else {
            throw ChildProcessError("the API did not answer on \(apiURL)/health within 30 s:\n\(api.tail())")
        }
        return api
    }

    /// Runs `Extractor --once` to its end and returns the process (its exit status says how the
    /// cycle went).
    package func extractOnce(as name: String = "extractor", within limit: Duration = .seconds(180), environment overrides: [String: String] = [:]) async throws -> ChildProcess {
        let process = try start(.extractor, as: name, ["--once"], environment: overrides)
        guard await process.waitForExit(timeout: limit) else {
            throw ChildProcessError("Extractor --once (\(name)) did not exit within \(limit):\n\(process.tail())")
        }
        return process
    }

    // MARK: The ledger and the fixture

    /// The run ids in the ledger, oldest first.
    package func runIDs() async throws -> [RunID] {
        try await redis.zrange(LedgerKey.runs).compactMap { RunID(parsing: $0) }
    }

    /// The only run in the ledger, waiting up to `limit` for it to appear.
    package func onlyRun(within limit: Duration = .seconds(60)) async throws -> RunID {
        guard try await eventually(within: limit, { try await !self.runIDs().isEmpty }) else {
            throw ChildProcessError("no run appeared in the ledger within \(limit)")
        }
        let ids = try await runIDs()
        guard ids.count == 1 else { throw ChildProcessError("expected one run in the ledger, found \(ids)") }
        return ids[0]
    }

    package func record(_ id: RunID) async throws -> RunRecord? { try await ledger.run(id) }

    /// Rows in `table` of the SQLite file (0 before the saver created it).
    package func rowCount(_ table: String) async throws -> Int {
        guard FileManager.default.fileExists(atPath: databasePath) else { return 0 }
        let reader = try PipelineDatabase.openReader(path: databasePath)
        defer { try? reader.close() }
        return try await reader.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }

    /// The names in the server's `upload/`.
    package func uploadedNames() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: uploadDirectory)) ?? []).sorted()
    }

    /// Waits until the run's status is one of `statuses`; returns its record.
    @discardableResult
    package func waitFor(_ id: RunID, _ statuses: Set<RunStatus>, within limit: Duration = .seconds(180)) async throws -> RunRecord {
        var last: RunRecord?
        let reached = try await eventually(within: limit) {
            last = try await self.record(id)
            return last.map { statuses.contains($0.status) } ?? false
        }
        guard reached, let last else {
            throw ChildProcessError("run \(id) did not reach \(statuses.map(\.rawValue).sorted()) within \(limit); it is \(last?.status.rawValue ?? "unknown")")
        }
        return last
    }

    /// Waits until the extractor's checkpoint of `id` has passed `skip` users.
    package func waitForCheckpoint(_ id: RunID, pastSkip skip: Int, within limit: Duration = .seconds(120)) async throws {
        guard try await eventually(within: limit, { (try await self.record(id)?.checkpoint?.skip ?? 0) >= skip }) else {
            throw ChildProcessError("run \(id) did not checkpoint past skip=\(skip) within \(limit)")
        }
    }

    /// `PATCH /_fixture/faults` with a JSON object of fault settings.
    package func setFaults(_ json: String) async throws {
        try await runCommand("curl", ["-fsS", "--max-time", "5", "-X", "PATCH", "-H", "Content-Type: application/json",
                                      "--data", json, fixtureURL + "/_fixture/faults"])
    }

    /// `GET /_fixture/stats`: requests served and responses by status.
    package func fixtureStats() async throws -> (requests: Int, byStatus: [String: Int]) {
        let object = try await getJSON(fixtureURL + "/_fixture/stats") as? [String: Any] ?? [:]
        return (object["requests"] as? Int ?? 0, object["byStatus"] as? [String: Int] ?? [:])
    }

    /// `GET /_fixture/info`: how many users and bad rows the fixture serves.
    package func fixtureInfo() async throws -> (users: Int, badCount: Int) {
        let object = try await getJSON(fixtureURL + "/_fixture/info") as? [String: Any] ?? [:]
        return (object["users"] as? Int ?? -1, object["badCount"] as? Int ?? -1)
    }

    /// A GET through curl (as a user would call it), its body parsed as JSON.
    package func getJSON(_ url: String) async throws -> Any {
        let body = try await runCommand("curl", ["-fsS", "--max-time", "10", url])
        return try JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed])
    }
}
