import Crypto
import Foundation
import Logging
import PipelineCore
import PipelineRedis
import PipelineRuntime
import Synchronization
import Testing
import TestSupport
import TransformerCore
import TransformerFixtures
#if canImport(Glibc)
import Glibc
#endif

/// The real `Transformer` binary against the real test Redis (database 3, so that suites of
/// other stages running in parallel never see these runs), as subprocesses.
@Suite(.serialized, .timeLimit(.minutes(15))) struct TransformerProcessTests {
    static let urlString = RedisTestServer.url.replacingOccurrences(of: #"/\d+$"#, with: "", options: .regularExpression) + "/3"
    static let url = try! RedisURL(urlString, name: "TEST_REDIS_URL")

    let redis = RedisClient(url: TransformerProcessTests.url, connectTimeout: .seconds(2), commandTimeout: .seconds(10))
    var ledger: RunLedger { RunLedger(redis: redis) }
    let directory = TemporaryDirectory("transformer-process")
    var layout: StagingLayout { StagingLayout(dataDirectory: directory.path + "/data") }

    init() async throws {
        try await redis.flushdb()
    }

    /// The production claim TTL by default: a short one only where a takeover is the point, since
    /// on a loaded machine a debug build can miss a renewal of a short claim and lose its run.
    func environment(reconcile: Double = 0.5, claimTTL: Double = 30) -> [String: String] {
        ["REDIS_URL": Self.urlString, "DATA_DIR": layout.dataDirectory, "RECONCILE_INTERVAL_SECONDS": "\(reconcile)",
         "CLAIM_TTL_SECONDS": "\(claimTTL)", "LOG_LEVEL": "info"]
    }

    func start(_ name: String, _ environment: [String: String]) throws -> TransformerProcess {
        try TransformerProcess(name, environment: environment, logPath: directory.file("\(name).log"))
    }

    /// Stages a raw.jsonl and records the run as extracted, as the extractor would.
    func stageRun(count: Int, badEvery: Int? = nil, repeating: Bool = false) async throws -> RunID {
        let id = RunID()
        try FileManager.default.createDirectory(atPath: layout.runDirectory(id), withIntermediateDirectories: true)
        if repeating {
            try DummyUsers.writeRepeatingFile(path: layout.rawFile(id), count: count)
        } else {
            try DummyUsers.writeFile(path: layout.rawFile(id), count: count, seed: 11, badEvery: badEvery)
        }
        let staged = try StagedFile.describe(path: layout.rawFile(id))
        _ = try await ledger.startRun(id)
        try await ledger.completePhase(.extract, run: id, files: [staged], counts: ["extracted": staged.rows])
        return id
    }

    func status(_ id: RunID) async throws -> RunStatus? { try await ledger.run(id)?.status }

    func outputs(_ id: RunID) -> [String] { [layout.usersFile(id), layout.dlqFile(id), layout.rawMaskedFile(id)] }

    /// Where the process logs are, for a failed expectation's message.
    func logs(_ processes: TransformerProcess...) -> Comment {
        Comment(rawValue: processes.map { "--- \($0.name):\n\($0.log.suffix(3000))" }.joined(separator: "\n"))
    }

    @Test func aTransformerStartedAfterThePhase1SignalStillProcessesTheRun() async throws {
        let id = try await stageRun(count: 600, badEvery: 9)
        // Published while no transformer of this test runs. (Pub/sub ignores database numbers: a
        // transformer of another suite may hear it, and scan a database of its own.)
        let signal = PhaseSignal(runID: id, phase: .extract, status: .extracted, at: Date())
        _ = try await redis.publish(Channel.phase1Complete.rawValue, signal.json)
        let messages = SignalCollector(url: Self.url, channels: [.phase2Complete, .runFailed])
        defer { messages.close() }
        #expect(try await messages.waitUntilSubscribed())

        // A reconcile interval of an hour: only the start-up scan of the ledger can find the run.
        let late = try start("late", environment(reconcile: 3600))
        defer { late.killNow() }
        #expect(try await eventually(within: .seconds(120)) { try await status(id) == .transformed }, logs(late))

        let record = try #require(try await ledger.run(id))
        let files = try #require(record.files[.transform])
        #expect(files.map(\.path) == outputs(id))
        for file in files {
            #expect(try await sha256sum(file.path) == file.sha256)
            #expect(try StagedFile.describe(path: file.path) == file)
        }
        let counts = try #require(record.counts[.transform])
        #expect(counts["valid"]! + counts["invalid"]! == 600)
        #expect(files.map(\.rows) == [counts["valid"]!, counts["invalid"]!, 600])
        #expect(counts["unknown_department"] == 0)
        #expect(counts.keys.contains("rule:email.email_format"))

        // The same bytes the library writes for this run's ledger facts.
        let fields = try await redis.hgetall(LedgerKey.run(id))
        let copy = TransformRun()
        try FileManager.default.copyItem(atPath: layout.rawFile(id), toPath: copy.paths.raw)
        let key = try #require(fields[Transformation.lineDigestKeyField].flatMap(Hex.decode))
        #expect(key.count == 32, "the run's digest key is made once and kept in the ledger")
        let context = TransformContext(runID: id.rawValue, extractedAt: fields["extract_finished_at"],
                                       transformedAt: try #require(fields["transform_started_at"]), lineDigestKey: SymmetricKey(data: key))
        let summary = try FileTransform(paths: copy.paths, rules: TransformRun.rules, context: context, logger: quietLogger).run()
        #expect(summary.files.map(\.sha256) == files.map(\.sha256))
        #expect(summary.counts == counts)
        let users = try copy.users
        #expect(users.first?["extracted_at"] as? String == fields["extract_finished_at"])
        #expect(users.first?["transformed_at"] as? String == fields["transform_started_at"])

        // Announced on channel:phase2_complete with what the ledger holds.
        #expect(try await eventually(within: .seconds(5)) { messages.signals(on: .phase2Complete, run: id).count == 1 })
        let announced = try #require(messages.signals(on: .phase2Complete, run: id).first)
        #expect(announced.runID == id)
        #expect(announced.status == .transformed)
        #expect(announced.files == files)
        #expect(announced.counts == counts)
        #expect(messages.signals(on: .runFailed, run: id).isEmpty)

        #expect(late.lines(containing: "transform summary").count == 1, logs(late))
        await late.stop()
        #expect(late.exitStatus == 0, "SIGTERM stops it gracefully; \(logs(late))")
    }

    @Test func twoTransformersStartedTogetherProcessTheRunExactlyOnce() async throws {
        let id = try await stageRun(count: 30_000, repeating: true)
        let messages = SignalCollector(url: Self.url, channels: [.phase2Complete])
        defer { messages.close() }
        #expect(try await messages.waitUntilSubscribed())
        let a = try start("a", environment(reconcile: 0.2))
        defer { a.killNow() }
        let b = try start("b", environment(reconcile: 0.2))
        defer { b.killNow() }
        #expect(try await eventually(within: .seconds(300)) { try await status(id) == .transformed }, logs(a, b))
        // Give the other replica several reconcile rounds to (wrongly) do the run again.
        try await Task.sleep(for: .seconds(2))
        #expect(a.isRunning && b.isRunning)
        await a.stop()
        await b.stop()
        #expect(a.lines(containing: "waiting for runs").count == 1 && b.lines(containing: "waiting for runs").count == 1, logs(a, b))
        #expect(a.lines(containing: "transforming run").count + b.lines(containing: "transforming run").count == 1, logs(a, b))
        #expect(a.lines(containing: "transform complete").count + b.lines(containing: "transform complete").count == 1, logs(a, b))
        #expect(messages.signals(on: .phase2Complete, run: id).count == 1)
        #expect(try await ledger.run(id)?.counts[.transform]?["valid"] == 30_000)
    }

    @Test func aTransformerKilledMidRunIsReplacedAndTheOutputsMatchAnUninterruptedRun() async throws {
        // Large enough (~85 MB in, ~280 MB out) that the debug binary spends many seconds in the
        // file, so the kill lands mid-file: after 8 MiB of raw.masked.jsonl.part, before the end.
        let id = try await stageRun(count: 60_000, repeating: true)

        // The reference: the run transformed without interruption.
        let uninterrupted = try start("uninterrupted", environment())
        defer { uninterrupted.killNow() }
        #expect(try await eventually(within: .seconds(400)) { try await status(id) == .transformed }, logs(uninterrupted))
        await uninterrupted.stop()
        let reference = try await checksums(outputs(id))
        let referenceRecord = try #require(try await ledger.run(id))

        // Redo the phase: back to `extracted`, outputs gone (transform_started_at stays, as for any redo).
        _ = try await redis.hset(LedgerKey.run(id), [RunRecord.Field.status: RunStatus.extracted.rawValue])
        _ = try await redis.hdel(LedgerKey.run(id), fields: [RunRecord.Field.finishedAt(.transform), RunRecord.Field.files(.transform), RunRecord.Field.counts(.transform)])
        for path in outputs(id) { try FileManager.default.removeItem(atPath: path) }

        // Killed mid-file.
        // Its claim outlives it by 5 s (CLAIM_TTL_SECONDS), the replacement's wait.
        let killed = try start("killed", environment(claimTTL: 5))
        defer { killed.killNow() }
        let part = layout.rawMaskedFile(id) + ".part"
        #expect(try await eventually(within: .seconds(120)) { fileSize(part) > 8 << 20 }, logs(killed))
        killed.signal(SIGKILL)
        #expect(await killed.waitForExit(timeout: .seconds(10)))
        #expect(try await status(id) == .transforming)
        #expect(outputs(id).allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "no output was complete when it was killed")
        #expect(killed.lines(containing: "transform summary").isEmpty, "it was killed before finishing")

        // The replacement waits for the dead one's claim to expire, then redoes the run.
        let replacement = try start("replacement", environment(claimTTL: 5))
        defer { replacement.killNow() }
        #expect(try await eventually(within: .seconds(400)) { try await status(id) == .transformed }, logs(replacement))
        await replacement.stop()
        #expect(try await checksums(outputs(id)) == reference)
        let record = try #require(try await ledger.run(id))
        #expect(record.files[.transform] == referenceRecord.files[.transform])
        #expect(record.counts[.transform] == referenceRecord.counts[.transform])
        #expect(record.phaseStartedAt[.transform] == referenceRecord.phaseStartedAt[.transform])
        #expect(outputs(id).allSatisfy { !FileManager.default.fileExists(atPath: $0 + ".part") })
    }

    @Test func aRawFileThatDoesNotMatchTheLedgerFailsTheRun() async throws {
        let id = try await stageRun(count: 50)
        // One byte changed after the extractor recorded the file.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: layout.rawFile(id)))
        try handle.seek(toOffset: 10)
        try handle.write(contentsOf: Data("X".utf8))
        try handle.close()
        let messages = SignalCollector(url: Self.url, channels: [.runFailed])
        defer { messages.close() }
        #expect(try await messages.waitUntilSubscribed())
        let transformer = try start("mismatch", environment())
        defer { transformer.killNow() }
        #expect(try await eventually(within: .seconds(120)) { try await status(id) == .failed }, logs(transformer))
        let record = try #require(try await ledger.run(id))
        #expect(record.failedPhase == .transform)
        let error = try #require(record.error)
        #expect(error.contains("raw.jsonl does not match what the extractor recorded"), "\(error)")
        #expect(error.contains("SHA-256"), "\(error)")
        #expect(outputs(id).allSatisfy { !FileManager.default.fileExists(atPath: $0) && !FileManager.default.fileExists(atPath: $0 + ".part") })
        #expect(try await eventually(within: .seconds(5)) { messages.signals(on: .runFailed, run: id).count == 1 })
        #expect(messages.signals(on: .runFailed, run: id).first?.error == error)
        await transformer.stop()
    }

    @Test func aBadSettingStopsTheProcessWithAMessageNamingIt() async throws {
        let transformer = try start("bad-setting", ["AGE_MIN": "40", "AGE_MAX": "30", "REDIS_URL": Self.urlString])
        defer { transformer.killNow() }
        #expect(await transformer.waitForExit(timeout: .seconds(20)))
        #expect(transformer.exitStatus != 0)
        #expect(transformer.log.contains("transformer: invalid AGE_MAX=\"30\": expected an integer at least AGE_MIN (40)"), logs(transformer))
    }
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

/// Subscribes to channels and keeps every message, from a task of its own.
final class SignalCollector: Sendable {
    private final class Box: Sendable {
        let state = Mutex<(subscribed: Bool, messages: [(String, [UInt8])])>((false, []))
    }

    private let subscriber: RedisSubscriber
    private let box: Box
    private let task: Task<Void, Never>

    init(url: RedisURL, channels: [Channel]) {
        let subscriber = RedisSubscriber(url: url, channels: channels.map(\.rawValue))
        let box = Box()
        self.subscriber = subscriber
        self.box = box
        task = Task {
            do {
                for try await event in subscriber.events {
                    switch event {
                    case .subscribed: box.state.withLock { $0.subscribed = true }
                    case .message(let channel, let payload): box.state.withLock { $0.messages.append((channel, payload)) }
                    case .reconnecting: break
                    }
                }
            } catch {}
        }
    }

    func waitUntilSubscribed() async throws -> Bool {
        try await eventually(within: .seconds(10)) { box.state.withLock { $0.subscribed } }
    }

    /// The signals received on `channel` about `run` (pub/sub spans databases: other suites' runs pass by too).
    func signals(on channel: Channel, run: RunID) -> [PhaseSignal] {
        box.state.withLock { $0.messages.filter { $0.0 == channel.rawValue }.map(\.1) }
            .compactMap { try? PhaseSignal.decode($0) }.filter { $0.runID == run }
    }

    func close() {
        subscriber.close()
        task.cancel()
    }
}

/// SHA-256 of each file, in order.
private func checksums(_ paths: [String]) async throws -> [String] {
    var sums: [String] = []
    for path in paths { sums.append(try await sha256sum(path)) }
    return sums
}
