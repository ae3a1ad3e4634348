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

    /// Stages a run of generated users in chunks and records it as extracted, as the extractor would.
    func stageRun(count: Int, badEvery: Int? = nil, repeating: Bool = false, chunkUsers: Int = 10_000) async throws -> ChunkedRun {
        let source = directory.file("source-\(UUID().uuidString).jsonl")
        if repeating {
            try DummyUsers.writeRepeatingFile(path: source, count: count)
        } else {
            try DummyUsers.writeFile(path: source, count: count, seed: 11, badEvery: badEvery)
        }
        let run = ChunkedRun(lines: try ChunkedRun.lines(ofFile: source), chunkUsers: chunkUsers)
        try FileManager.default.removeItem(atPath: source)
        try await run.stage(layout: layout, ledger: ledger)
        return run
    }

    func status(_ id: RunID) async throws -> RunStatus? { try await ledger.run(id)?.status }

    func outputs(_ run: ChunkedRun, chunk: Int) -> [String] {
        [ChunkFile.users, .dlq, .rawMasked].map { layout.chunkFile(run.id, chunk, $0) }
    }

    /// The chunks named by the log lines with the message `message` (their `chunk=` field).
    func chunks(in process: TransformerProcess, _ message: String) -> [Int] {
        // The message is followed by a space and its fields (a progress line's `transforming chunk=1` is not it).
        process.lines(containing: " \(message) ").compactMap { line in
            line.firstMatch(of: /\schunk=(\d+)/).flatMap { Int($0.1) }
        }
    }

    /// Where the process logs are, for a failed expectation's message.
    func logs(_ processes: TransformerProcess...) -> Comment {
        Comment(rawValue: processes.map { "--- \($0.name):\n\($0.log.suffix(3000))" }.joined(separator: "\n"))
    }

    @Test func aTransformerStartedAfterThePhase1SignalStillProcessesTheRun() async throws {
        let run = try await stageRun(count: 600, badEvery: 9, chunkUsers: 250)
        let id = run.id
        #expect(run.chunks.map(\.rows) == [250, 250, 100])
        #expect(!run.chunks.flatMap(\.repeats).isEmpty, "the generated rows repeat some ids")
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
        #expect(files.map(\.path) == run.outputs(layout), "every chunk's users, dlq and raw.masked, in chunk order")
        for file in files {
            #expect(try await sha256sum(file.path) == file.sha256)
            #expect(try StagedFile.describe(path: file.path) == file)
        }
        let counts = try #require(record.counts[.transform])
        #expect(counts["valid"]! + counts["invalid"]! == 600)
        #expect(files.map(\.rows) == run.chunks.indices.flatMap { record.chunks.transformed[$0]!.files.map(\.rows) })
        #expect(stride(from: 2, to: files.count, by: 3).map { files[$0].rows } == run.chunks.map(\.rows))
        #expect(counts["unknown_department"] == 0)
        #expect(counts.keys.contains("rule:email.email_format"))
        #expect(counts["rule:id.duplicate"] == run.chunks.flatMap(\.repeats).count)
        var summed: [String: Int] = [:]
        for chunk in record.chunks.transformed.values { summed.merge(chunk.counts, uniquingKeysWith: +) }
        #expect(counts == summed, "the run's counts are its chunks' counts, summed")

        // The same bytes the library writes for each chunk from the ledger's facts.
        let fields = try await redis.hgetall(LedgerKey.run(id))
        let key = try #require(fields[Transformation.lineDigestKeyField].flatMap(Hex.decode))
        #expect(key.count == 32, "the run's digest key is made once and kept in the ledger")
        let transformedAt = try #require(fields["transform_started_at"])
        for chunk in run.chunks {
            let copy = TransformRun()
            try FileManager.default.copyItem(atPath: layout.chunkFile(id, chunk.index, .raw), toPath: copy.paths.raw)
            let context = TransformContext(runID: id.rawValue, extractedAt: chunk.sealedAt, transformedAt: transformedAt,
                                           lineDigestKey: SymmetricKey(data: key))
            let summary = try FileTransform(paths: copy.paths, rules: TransformRun.rules, context: context,
                                            firstLine: chunk.firstLine, repeats: chunk.repeats, logger: quietLogger).run()
            #expect(summary.files.map(\.sha256) == record.chunks.transformed[chunk.index]?.files.map(\.sha256))
            #expect(summary.counts == record.chunks.transformed[chunk.index]?.counts)
            let users = try copy.users
            #expect(users.allSatisfy { $0["extracted_at"] as? String == chunk.sealedAt }, "a chunk's rows were extracted when it was sealed")
            #expect(users.allSatisfy { $0["transformed_at"] as? String == transformedAt })
            #expect(users.allSatisfy { chunk.lines.contains(($0["line"] as? Int) ?? 0) }, "run-wide line numbers")
        }

        // Announced on channel:phase2_complete with what the ledger holds.
        #expect(try await eventually(within: .seconds(5)) { messages.signals(on: .phase2Complete, run: id).count == 1 })
        let announced = try #require(messages.signals(on: .phase2Complete, run: id).first)
        #expect(announced.runID == id)
        #expect(announced.status == .transformed)
        #expect(announced.files == files)
        #expect(announced.counts == counts)
        #expect(messages.signals(on: .runFailed, run: id).isEmpty)

        #expect(late.lines(containing: "transform summary").count == 3, logs(late))
        #expect(chunks(in: late, "transforming chunk") == [0, 1, 2], logs(late))
        await late.stop()
        #expect(late.exitStatus == 0, "SIGTERM stops it gracefully; \(logs(late))")
    }

    @Test func twoTransformersStartedTogetherTransformEachChunkExactlyOnce() async throws {
        let run = try await stageRun(count: 30_000, repeating: true)
        let id = run.id
        #expect(run.chunks.count == 3)
        let messages = SignalCollector(url: Self.url, channels: [.phase2Complete])
        defer { messages.close() }
        #expect(try await messages.waitUntilSubscribed())
        let a = try start("a", environment(reconcile: 0.2))
        defer { a.killNow() }
        let b = try start("b", environment(reconcile: 0.2))
        defer { b.killNow() }
        #expect(try await eventually(within: .seconds(300)) { try await status(id) == .transformed }, logs(a, b))
        // Give the other replica several reconcile rounds to (wrongly) do a chunk again.
        try await Task.sleep(for: .seconds(2))
        #expect(a.isRunning && b.isRunning)
        await a.stop()
        await b.stop()
        #expect(a.lines(containing: "waiting for runs").count == 1 && b.lines(containing: "waiting for runs").count == 1, logs(a, b))
        #expect((chunks(in: a, "transforming chunk") + chunks(in: b, "transforming chunk")).sorted() == [0, 1, 2], logs(a, b))
        #expect((chunks(in: a, "chunk transformed") + chunks(in: b, "chunk transformed")).sorted() == [0, 1, 2], logs(a, b))
        #expect(a.lines(containing: "transform complete").count + b.lines(containing: "transform complete").count == 1, logs(a, b))
        #expect(messages.signals(on: .phase2Complete, run: id).count == 1)
        #expect(try await ledger.run(id)?.counts[.transform]?["valid"] == 30_000)
    }

    @Test func aTransformerKilledMidChunkRedoesOnlyThatChunkAndTheOutputsMatchAnUninterruptedRun() async throws {
        // Chunks large enough (~28 MB in each) that the debug binary spends seconds in one, so the
        // kill lands in chunk 1: after 4 MiB of its raw.masked.jsonl.part, before its end.
        let run = try await stageRun(count: 60_000, repeating: true, chunkUsers: 20_000)
        let id = run.id

        // The reference: the run transformed without interruption.
        let uninterrupted = try start("uninterrupted", environment())
        defer { uninterrupted.killNow() }
        #expect(try await eventually(within: .seconds(400)) { try await status(id) == .transformed }, logs(uninterrupted))
        await uninterrupted.stop()
        let reference = try await checksums(run.outputs(layout))
        let referenceRecord = try #require(try await ledger.run(id))

        // Redo the phase: back to `extracted`, the chunk records and outputs gone (transform_started_at stays, as for any redo).
        _ = try await redis.hset(LedgerKey.run(id), [RunRecord.Field.status: RunStatus.extracted.rawValue])
        _ = try await redis.hdel(LedgerKey.run(id), fields: [RunRecord.Field.finishedAt(.transform), RunRecord.Field.files(.transform),
                                                             RunRecord.Field.counts(.transform)] + run.chunks.map { RunChunks.Field.chunk($0.index, .transform) })
        for path in run.outputs(layout) { try FileManager.default.removeItem(atPath: path) }

        // Killed in the middle of chunk 1, chunk 0 done.
        var env = environment()
        env["INSTANCE_ID"] = "transformer-killed-mid-chunk"
        let killed = try start("killed", env)
        defer { killed.killNow() }
        let part = layout.chunkFile(id, 1, .rawMasked) + ".part"
        #expect(try await eventually(within: .seconds(200)) {
            guard fileSize(part) > 4 << 20 else { return false }
            return try await ledger.run(id)?.chunks.transformed[0] != nil
        }, logs(killed))
        killed.signal(SIGKILL)
        #expect(await killed.waitForExit(timeout: .seconds(30)))
        let afterKill = try #require(try await ledger.run(id))
        #expect(afterKill.status == .transforming)
        #expect(afterKill.chunks.transformed.keys.sorted() == [0], "chunk 0 was recorded, chunk 1 was not: \(logs(killed))")
        #expect(outputs(run, chunk: 0).allSatisfy { FileManager.default.fileExists(atPath: $0) })
        #expect(outputs(run, chunk: 1).allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "chunk 1 was not complete when it was killed")
        let chunk0 = try outputs(run, chunk: 0).map(identity)

        // Restarted with the same identity: it takes its claim on chunk 1 over at once and redoes
        // chunks 1 and 2 only.
        let restarted = try start("restarted", env)
        defer { restarted.killNow() }
        #expect(try await eventually(within: .seconds(400)) { try await status(id) == .transformed }, logs(restarted))
        await restarted.stop()
        #expect(chunks(in: restarted, "transforming chunk") == [1, 2], logs(restarted))
        #expect(try outputs(run, chunk: 0).map(identity) == chunk0, "chunk 0's files were not written again")
        #expect(try await checksums(run.outputs(layout)) == reference)
        let record = try #require(try await ledger.run(id))
        #expect(record.files[.transform] == referenceRecord.files[.transform])
        #expect(record.counts[.transform] == referenceRecord.counts[.transform])
        #expect(record.chunks.transformed == referenceRecord.chunks.transformed)
        #expect(record.phaseStartedAt[.transform] == referenceRecord.phaseStartedAt[.transform])
        #expect(run.outputs(layout).allSatisfy { !FileManager.default.fileExists(atPath: $0 + ".part") })
    }

    @Test func aChunkWhoseRawFileDoesNotMatchItsSealFailsTheRunNamingTheChunk() async throws {
        let run = try await stageRun(count: 30, chunkUsers: 10)
        let id = run.id
        // One byte of chunk 1 changed after the extractor sealed it.
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: layout.chunkFile(id, 1, .raw)))
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
        #expect(error.hasPrefix("chunk 1 (lines 11-20): raw.jsonl does not match what the extractor recorded, so it was not transformed: "), "\(error)")
        #expect(error.contains(layout.chunkFile(id, 1, .raw)), "\(error)")
        #expect(error.contains("SHA-256"), "\(error)")
        #expect(outputs(run, chunk: 1).allSatisfy { !FileManager.default.fileExists(atPath: $0) && !FileManager.default.fileExists(atPath: $0 + ".part") })
        #expect(record.chunks.transformed[1] == nil)
        #expect(try await eventually(within: .seconds(5)) { messages.signals(on: .runFailed, run: id).count == 1 })
        #expect(messages.signals(on: .runFailed, run: id).first?.error == error)
        await transformer.stop()
    }

    @Test func aBadSettingStopsTheProcessWithAMessageNamingIt() async throws {
        let transformer = try start("bad-setting", ["AGE_MIN": "40", "AGE_MAX": "30", "REDIS_URL": Self.urlString])
        defer { transformer.killNow() }
        #expect(await transformer.waitForExit(timeout: .seconds(60)))
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

/// A file's inode and modification time: what writing it again would change.
func identity(_ path: String) throws -> String {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return "\(attributes[.systemFileNumber] ?? "?") \((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
}

/// SHA-256 of each file, in order.
func checksums(_ paths: [String]) async throws -> [String] {
    var sums: [String] = []
    for path in paths { sums.append(try await sha256sum(path)) }
    return sums
}
