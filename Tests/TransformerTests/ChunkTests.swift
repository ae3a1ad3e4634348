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

/// The transformer works chunk by chunk (docs/STAGING.md, "Chunks"): each sealed chunk under its
/// own claim, by any replica, while the extractor may still be sealing more; the run's outputs
/// do not depend on how many replicas ran. Replicas here are `PhaseWorker`s in this process, each
/// with its own claim owner and its own log.
extension TransformerProcessTests {
    /// One replica: a worker with its own claim owner, whose log lines are kept.
    final class Replica: Sendable {
        let name: String
        let worker: PhaseWorker
        private let lines: LogLines

        final class LogLines: Sendable {
            let lines = Mutex<[String]>([])
        }

        init(_ name: String, redis: RedisClient, url: RedisURL, work: PhaseWorker.Work) {
            self.name = name
            let lines = LogLines()
            let logger = Logger(label: name) { label in
                LineLogHandler(stage: label, level: .info, format: .text, sink: LineSink { line in lines.lines.withLock { $0.append(line) } })
            }
            worker = PhaseWorker(phase: .transform, redis: redis, redisURL: url, claims: RunClaims(redis: redis, instance: name, ttl: .seconds(30)),
                                 reconcileInterval: .milliseconds(300), logger: logger, work: work)
            self.lines = lines
        }

        /// The chunks this replica logged `message` for.
        func chunks(_ message: String) -> [Int] {
            lines.lines.withLock { $0 }.filter { $0.contains(" \(message) ") || $0.hasSuffix(" \(message)") }
                .compactMap { $0.firstMatch(of: /\schunk=(\d+)/).flatMap { Int($0.1) } }
        }

        var log: String { lines.lines.withLock { $0.joined(separator: "\n") } }

        func start() -> Task<Void, any Error> { Task { try await worker.run() } }
    }

    var transformation: Transformation { Transformation(rules: TransformRun.rules, layout: layout, redis: redis, workers: 2) }

    func eachChunk() -> PhaseWorker.Work {
        let transformation = transformation
        return .eachChunk { run, chunk, logger in try await transformation.work(run, chunk: chunk, logger: logger) }
    }

    /// Polls the ledger until `condition` holds for the run (at most `limit`).
    func ledgerHolds(_ id: RunID, within limit: Duration = .seconds(120), _ condition: @escaping (RunRecord) -> Bool) async throws -> Bool {
        try await eventually(within: limit) { (try await ledger.run(id)).map(condition) ?? false }
    }

    @Test func twoReplicasShareARunChunkByChunkAndWriteWhatOneReplicaWrites() async throws {
        let lines = (0..<600).map { index -> [UInt8] in
            index % 7 == 6 ? Array(DummyUsers.badLine(DummyUsers.BadKind.allCases[(index / 7) % DummyUsers.BadKind.allCases.count], index: index).utf8)
                : Array(DummyUsers.user(index).text.utf8)
        }
        let run = ChunkedRun(lines: lines, chunkUsers: 200)
        let id = run.id
        #expect(run.chunks.count == 3)
        #expect(!run.chunks.flatMap(\.repeats).isEmpty)

        // Each replica holds its first chunk until the other has one too (for at most 20 s), so
        // that both are seen working on the run at once, whichever starts first.
        let working = Mutex<Set<String>>([])
        func sharing(_ name: String) -> PhaseWorker.Work {
            let transformation = transformation
            return .eachChunk { run, chunk, logger in
                working.withLock { _ = $0.insert(name) }
                _ = try await eventually(within: .seconds(20)) { working.withLock { $0.count == 2 } }
                return try await transformation.work(run, chunk: chunk, logger: logger)
            }
        }
        let a = Replica("replica-a", redis: redis, url: Self.url, work: sharing("replica-a"))
        let b = Replica("replica-b", redis: redis, url: Self.url, work: sharing("replica-b"))

        // The extractor has sealed two chunks and is still running.
        try await run.start(ledger)
        try await run.seal(0..<2, layout: layout, ledger: ledger)
        let tasks = [a.start(), b.start()]
        defer { for task in tasks { task.cancel() } }
        #expect(try await ledgerHolds(id) { $0.chunks.transformed.count == 2 }, "\(a.log)\n\(b.log)")
        let midway = try #require(try await ledger.run(id))
        #expect(midway.status == .extracting, "extracting until the last chunk is sealed, however many are transformed")
        #expect(midway.phaseFinishedAt[.transform] == nil)
        #expect(midway.phaseStartedAt[.transform] != nil)

        // The last chunk, and the end of the extraction.
        try await run.seal(2..<3, layout: layout, ledger: ledger)
        try await run.completeExtraction(layout: layout, ledger: ledger)
        #expect(try await ledgerHolds(id) { $0.status == .transformed }, "\(a.log)\n\(b.log)")
        for task in tasks { task.cancel() }
        for task in tasks { _ = await task.result }

        // Both replicas transformed chunks of the run; each chunk once.
        #expect(!a.chunks("chunk transformed").isEmpty && !b.chunks("chunk transformed").isEmpty, "\(a.log)\n\(b.log)")
        #expect((a.chunks("chunk transformed") + b.chunks("chunk transformed")).sorted() == [0, 1, 2], "\(a.log)\n\(b.log)")
        #expect((a.chunks("transforming chunk") + b.chunks("transforming chunk")).sorted() == [0, 1, 2])

        // The run's record: every chunk's files in chunk order, the counts summed.
        let record = try #require(try await ledger.run(id))
        #expect(record.files[.transform]?.map(\.path) == run.outputs(layout))
        var summed: [String: Int] = [:]
        for chunk in record.chunks.transformed.values { summed.merge(chunk.counts, uniquingKeysWith: +) }
        #expect(record.counts[.transform] == summed)
        #expect(summed["valid"]! + summed["invalid"]! == 600)
        #expect(summed["rule:id.duplicate"] == run.chunks.flatMap(\.repeats).count)

        // Line numbers are the run's: every line once across the chunks' users and DLQ rows.
        let concatenated = try [ChunkFile.users, .dlq, .rawMasked].map { try run.concatenated($0, layout) }
        func lineNumbers(_ data: Data) throws -> [Int] {
            try data.split(separator: 0x0A).map { line in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
                return try #require(object["line"] as? Int)
            }
        }
        #expect(try (lineNumbers(concatenated[0]) + lineNumbers(concatenated[1])).sorted() == Array(1...600))
        #expect(concatenated[2].split(separator: 0x0A).count == 600)
        for chunk in run.chunks {
            let users = try TransformRun().objects(layout.chunkFile(id, chunk.index, .users))
            #expect(users.allSatisfy { $0["extracted_at"] as? String == chunk.sealedAt }, "chunk \(chunk.index)")
        }

        // The same run transformed again by one replica: the same bytes.
        let twoReplicas = try await checksums(run.outputs(layout))
        _ = try await redis.hset(LedgerKey.run(id), [RunRecord.Field.status: RunStatus.extracted.rawValue])
        _ = try await redis.hdel(LedgerKey.run(id), fields: [RunRecord.Field.finishedAt(.transform), RunRecord.Field.files(.transform),
                                                             RunRecord.Field.counts(.transform)] + run.chunks.map { RunChunks.Field.chunk($0.index, .transform) })
        for path in run.outputs(layout) { try FileManager.default.removeItem(atPath: path) }
        let alone = Replica("replica-alone", redis: redis, url: Self.url, work: eachChunk())
        let task = alone.start()
        defer { task.cancel() }
        #expect(try await ledgerHolds(id) { $0.status == .transformed }, "\(alone.log)")
        task.cancel()
        #expect(alone.chunks("chunk transformed").sorted() == [0, 1, 2])
        #expect(try await checksums(run.outputs(layout)) == twoReplicas)
        let again = try #require(try await ledger.run(id))
        #expect(again.files[.transform] == record.files[.transform])
        #expect(again.counts[.transform] == record.counts[.transform])
    }

    /// Redis restarting just as a chunk starts (the chaos suite's scenario 5 met it): the
    /// chunk's own ledger reads and writes wait for Redis, as every ledger call does, instead of
    /// failing the run.
    @Test func aChunkStartedWhileRedisIsDownWaitsForIt() async throws {
        try await RedisTestServer.withPrivateServer { urlText, port in
            let redis = RedisClient(url: try RedisURL(urlText), connectTimeout: .seconds(2), commandTimeout: .seconds(5))
            let ledger = RunLedger(redis: redis)
            let run = ChunkedRun(lines: (0..<30).map { Array(DummyUsers.user($0).text.utf8) }, chunkUsers: 30)
            try await run.stage(layout: layout, ledger: ledger)
            try await ledger.beginPhase(.transform, run: run.id)
            let record = try #require(try await ledger.run(run.id))
            let transformation = Transformation(rules: TransformRun.rules, layout: layout, redis: redis, workers: 2)

            try await RedisTestServer.stop(port: port)
            async let output = transformation.work(record, chunk: run.chunks[0], logger: Logger(label: "test"))
            try await Task.sleep(for: .seconds(1))
            try await RedisTestServer.start(port: port)
            #expect(try await output.counts["valid"] == 30)
        }
    }

    @Test func anIDRepeatedInALaterChunkIsADuplicateOnItsRunWideLine() async throws {
        // 90 users in chunks of 30; line L has id L, except line 75 (chunk 2) with the id of
        // line 7 (chunk 0) and line 40 with the id of line 35 (both chunk 1).
        var lines = (0..<90).map { DummyUsers.user($0) }
        lines[74].set("id", .int(7))
        lines[39].set("id", .int(35))
        let run = ChunkedRun(lines: lines.map { Array($0.text.utf8) }, chunkUsers: 30)
        #expect(run.chunks.map(\.repeats) == [[], [RepeatedID(line: 40, id: 35)], [RepeatedID(line: 75, id: 7)]])
        try await run.stage(layout: layout, ledger: ledger)

        let replica = Replica("replica", redis: redis, url: Self.url, work: eachChunk())
        let task = replica.start()
        defer { task.cancel() }
        #expect(try await ledgerHolds(run.id) { $0.status == .transformed }, "\(replica.log)")
        task.cancel()

        // Exactly what a whole-run transform wrote for a repeated id: the first reason, same words.
        let expected = [(1, 40, 35), (2, 75, 7)]
        for (chunk, line, id) in expected {
            let dlq = try TransformRun().lines(layout.chunkFile(run.id, chunk, .dlq))
            #expect(dlq.count == 1)
            #expect(dlq.first?.hasPrefix(#"{"line":\#(line),"run_id":"\#(run.id)","reasons":[{"field":"id","rule":"duplicate","message":"id \#(id) appears on an earlier line"}],"payload":{"id":\#(id),"#) == true, "\(dlq)")
        }
        #expect(try TransformRun().lines(layout.chunkFile(run.id, 0, .dlq)).isEmpty)
        let users = try run.concatenated(.users, layout).split(separator: 0x0A).map {
            try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
        }
        #expect(users.map { $0["line"] as? Int } == (1...90).filter { $0 != 40 && $0 != 75 }, "the first occurrences stay valid")
        let counts = try #require(try await ledger.run(run.id)?.counts[.transform])
        #expect(counts["rule:id.duplicate"] == 2)
        #expect(counts["valid"] == 88)
    }
}
