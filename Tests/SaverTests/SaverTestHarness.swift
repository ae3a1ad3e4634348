import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import Logging
import PipelineCore
import PipelineDatabase
import PipelineRedis
import PipelineRuntime
import PipelineSFTP
import SaverCore
import Testing
import TestSupport

/// Every test that uses the ledger in Redis database 4: nested here so `.serialized` keeps a
/// test's phase worker from picking up another test's runs. The time limit turns a hang into
/// a failure.
@Suite(.serialized, .timeLimit(.minutes(5))) struct SaverServerTests {}

/// One test's world: a temporary staging directory and SQLite file, the ledger in Redis
/// database 4 (flushed), and a remote directory of its own on an SFTP test server.
final class SaverHarness: Sendable {
    /// The test server's URL with database 4.
    static let redisURLText: String = {
        let text = RedisTestServer.url.replacingOccurrences(of: #"/\d+$"#, with: "/4", options: .regularExpression)
        return text.hasSuffix("/4") ? text : text + "/4"
    }()
    static let redisURL = try! RedisURL(redisURLText, name: "TEST_REDIS_URL")

    let directory = TemporaryDirectory("saver-test")
    let redis = RedisClient(url: SaverHarness.redisURL, connectTimeout: .seconds(2), commandTimeout: .seconds(5))
    let server: SFTPTestServer
    /// `upload/saver-test-…` on the server.
    let remoteDirectory: String
    let knownHostsPath: String

    var ledger: RunLedger { RunLedger(redis: redis) }
    var dataDirectory: String { directory.file("data") }
    var layout: StagingLayout { StagingLayout(dataDirectory: dataDirectory) }
    var databasePath: String { directory.file("database/data.db") }
    /// Where `remoteDirectory` is on disk.
    var remoteOnDisk: String { server.chrootPath + "/" + remoteDirectory }

    init(server: SFTPTestServer = .current) async throws {
        self.server = server
        if server.port == SFTPTestServer.current.port { try await SFTPTestServer.ensureRunning() }
        remoteDirectory = "upload/saver-test-\(UUID().uuidString.prefix(8).lowercased())"
        knownHostsPath = directory.file("known_hosts")
        try server.writeKnownHosts(to: knownHostsPath)
        try await redis.flushdb()
    }

    deinit {
        try? FileManager.default.removeItem(atPath: remoteOnDisk)
        redis.close()
    }

    /// A fast retry schedule for tests.
    static let fastRetry = RetryPolicy(maxRetries: 2, baseDelay: .milliseconds(100), multiplier: 2, maxDelay: .seconds(1), jitter: 0.1)

    func sftpConfiguration(knownHosts: String? = nil, ioTimeout: Duration = .seconds(10)) -> SFTPConfiguration {
        SFTPConfiguration(
            host: server.host, port: server.port, user: server.user, privateKeyPath: server.privateKeyPath,
            knownHostsPath: knownHosts ?? knownHostsPath, connectTimeout: .seconds(5), ioTimeout: ioTimeout)
    }

    func settings(
        databasePath: String? = nil, retry: RetryPolicy = SaverHarness.fastRetry, keepRuns: Int = 5,
        knownHosts: String? = nil, reconcile: Duration = .milliseconds(300), encryption: UploadEncryption? = nil
    ) -> SaverSettings {
        SaverSettings(
            redisURL: Self.redisURL, staging: StagingSettings(dataDirectory: dataDirectory, keepRuns: keepRuns),
            databasePath: databasePath ?? self.databasePath, sftp: sftpConfiguration(knownHosts: knownHosts),
            remoteDirectory: remoteDirectory, retry: retry, reconcileInterval: reconcile, claimTTL: .seconds(5),
            encryption: encryption)
    }

    func saver(settings: SaverSettings? = nil, hooks: SaverHooks = .none) async throws -> Saver {
        let settings = settings ?? self.settings()
        let database = try await Saver.openDatabase(path: settings.databasePath)
        return Saver(settings: settings, database: database, redis: redis, logger: Logger(label: "saver-test"), hooks: hooks)
    }

    /// Stages a run in chunks of `chunkUsers` (one chunk by default), its first
    /// `transformedChunks` (all by default) transformed.
    func stage(
        _ id: RunID = .test(), rows: Int = 50, chunkUsers: Int? = nil, transformedChunks: Int? = nil, invalidEvery: Int = 10,
        idOffset: Int = 0, variant: String = "a", notJSONLine: Int? = 3, register: Bool = true
    ) async throws -> StagedRunFixture {
        try await StagedRunFixture.stage(
            id, layout: layout, ledger: register ? ledger : nil, rows: rows, chunkUsers: chunkUsers, transformedChunks: transformedChunks,
            invalidEvery: invalidEvery, idOffset: idOffset, variant: variant, notJSONLine: notJSONLine)
    }

    /// Hands a saved run back to the saver, as if its completion had been lost: without its
    /// save finish time (and status), and with `forgetChunks` without its chunks' save records
    /// too, so it is saved from scratch.
    func handBack(_ run: StagedRunFixture, forgetChunks: Bool) async throws {
        if forgetChunks {
            _ = try await redis.hdel(LedgerKey.run(run.id), fields: run.chunks.indices.map { RunChunks.Field.chunk($0, .save) })
        }
        _ = try await redis.hdel(LedgerKey.run(run.id), fields: [RunRecord.Field.finishedAt(.save)])
        _ = try await redis.hset(LedgerKey.run(run.id), field: RunRecord.Field.status, value: RunStatus.saving.rawValue)
    }

    /// The server's copy of each of the run's data files equals the run's staged rows, byte
    /// for byte, with no `.part` left; the manifest lists them with their rows, sizes and SHA-256.
    func expectRemoteFiles(_ run: StagedRunFixture, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let names = Saver.remoteNames(run.id)
        #expect(filesOnDisk(remoteOnDisk) == [names.dlq, names.manifest, names.raw, names.users].sorted(), sourceLocation: sourceLocation)
        for (name, local) in run.expectedRemote {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: remoteOnDisk + "/" + name))
            let expected = try Data(contentsOf: URL(fileURLWithPath: local.path))
            #expect(bytes == expected, "\(name): \(bytes.count) bytes on the server, \(expected.count) expected", sourceLocation: sourceLocation)
        }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: remoteOnDisk + "/" + names.manifest))) as? [String: Any]
        let files = (manifest?["files"] as? [[String: Any]]) ?? []
        #expect(files.map { "\($0["name"] ?? "") \($0["rows"] ?? "") \($0["bytes"] ?? "") \($0["sha256"] ?? "")" }
                == run.expectedRemote.map { "\($0.name) \($0.local.rows) \($0.local.bytes) \($0.local.sha256)" }, sourceLocation: sourceLocation)
    }

    /// Runs the saver's worker and recorder until `body` returns.
    func running<T>(_ saver: Saver, _ body: () async throws -> T) async throws -> T {
        let services = saver.services()
        let task = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for service in services { group.addTask { try await service.run() } }
                try await group.waitForAll()
            }
        }
        defer { task.cancel() }
        let result = try await body()
        task.cancel()
        _ = await task.result
        return result
    }

    /// Polls the ledger until the run has `status` (or failed), for at most `limit`.
    func waitForLedger(_ id: RunID, _ status: RunStatus, limit: Duration = .seconds(60)) async throws -> RunRecord? {
        var record: RunRecord?
        _ = try await eventually(within: limit) {
            record = try await ledger.run(id)
            return record?.status == status
        }
        return record
    }
}

/// Read-only views of a database file, for assertions.
struct DatabaseSnapshot {
    let pool: DatabasePool

    init(path: String) throws {
        pool = try PipelineDatabase.openReader(path: path)
    }

    func count(_ table: String, run: RunID? = nil) throws -> Int {
        try pool.read { db in
            if let run {
                return try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE run_id = ?", arguments: [run.rawValue]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
        }
    }

    func run(_ id: RunID) throws -> Row? {
        try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM etl_runs WHERE run_id = ?", arguments: [id.rawValue]) }
    }

    func user(_ id: Int) throws -> Row? {
        try pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]) }
    }

    func events(_ id: RunID) throws -> [Row] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM etl_run_events WHERE run_id = ? ORDER BY id", arguments: [id.rawValue])
        }
    }

    /// Every row of `table` as text, sorted, leaving out `excluding` columns.
    func dump(_ table: String, excluding: Set<String> = []) throws -> [String] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map { row in
                row.columnNames.filter { !excluding.contains($0) }.map { "\($0)=\(row[$0] as DatabaseValue)" }.joined(separator: " | ")
            }.sorted()
        }
    }

    /// Every table that matters, with the columns that depend on when a save ran left out.
    func contents() throws -> [String: [String]] {
        [
            "raw_users": try dump("raw_users"),
            "users": try dump("users"),
            "dlq_records": try dump("dlq_records"),
            "etl_runs": try dump("etl_runs", excluding: ["finished_at", "duration_ms", "updated_at"]),
            "etl_run_events": try dump("etl_run_events", excluding: ["id", "at"]),
        ]
    }
}

/// The files in a directory on disk (the server's view of a remote directory), by name.
func filesOnDisk(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}
