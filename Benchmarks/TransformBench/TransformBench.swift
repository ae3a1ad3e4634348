import ArgumentParser
import ExtractorCore
import Foundation
import PipelineCore
import PipelineRedis
import PipelineRuntime
import TransformerFixtures

/// Helpers for `scripts/bench-transform.sh`: stage a generated run for the transformer, and wait
/// for the transformer to finish it.
@main
struct TransformBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "TransformBench",
        abstract: "Stage a generated run for the Transformer and time it through the ledger.",
        subcommands: [Prepare.self, Wait.self]
    )
}

struct RedisOptions: ParsableArguments {
    @Option(help: "The ledger's Redis.")
    var redisURL = "redis://127.0.0.1:16395/0"

    func client() throws -> RedisClient {
        RedisClient(url: try RedisURL(redisURL, name: "--redis-url"), connectTimeout: .seconds(2), commandTimeout: .seconds(10))
    }
}

struct Prepare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate raw.jsonl for a new run under DATA_DIR and record it in the ledger as extracted; prints the run id.")

    @Option(help: "Rows to generate.") var rows = 1_000_000
    @Option(help: "Every N-th row is bad (cycling through the bad kinds); 0 for none.") var badEvery = 50
    @Option(help: "Generator seed.") var seed: UInt64 = 1
    @Option(help: "Cycle through this many distinct users with fresh ids (fast, no bad rows) instead of generating every row.")
    var distinct: Int?
    @Option(help: "The staging directory (DATA_DIR).") var dataDir: String
    @OptionGroup var redis: RedisOptions

    func run() async throws {
        let id = RunID()
        let layout = StagingLayout(dataDirectory: dataDir)
        // The whole run as one chunk, recorded as the extractor records it.
        try FileManager.default.createDirectory(atPath: layout.chunkDirectory(id, 0), withIntermediateDirectories: true)
        let path = layout.chunkFile(id, 0, .raw)
        let started = ContinuousClock.now
        var bad = 0
        if let distinct {
            try DummyUsers.writeRepeatingFile(path: path, count: rows, distinct: distinct, seed: seed)
        } else {
            bad = try DummyUsers.writeFile(path: path, count: rows, seed: seed, badEvery: badEvery > 0 ? badEvery : nil)
        }
        let staged = try StagedFile.describe(path: path)
        FileHandle.standardError.write(Data("generated \(staged.rows) rows (\(bad) bad), \(staged.bytes) bytes in \(String(format: "%.1f", (ContinuousClock.now - started).seconds)) s: \(path)\n".utf8))
        let client = try redis.client()
        defer { client.close() }
        let ledger = RunLedger(redis: client)
        _ = try await ledger.startRun(id, chunkUsers: max(staged.rows, 1))
        try await ledger.sealChunk(SealedChunk(
            index: 0, firstLine: 1, rows: staged.rows, bytes: staged.bytes, sha256: staged.sha256,
            sealedAt: Timestamp.format(Date()), repeats: try RepeatedIDs.inFile(path)), run: id, isLast: true)
        try await ledger.completePhase(.extract, run: id, files: [staged], counts: ["extracted": staged.rows])
        print(id)
    }
}

struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until the run is transformed (or failed) and print its phase time from the ledger.")

    @Option(help: "The run id.") var run: String
    @Option(help: "Give up after this many seconds.") var timeout: Double = 1800
    @OptionGroup var redis: RedisOptions

    func run() async throws {
        guard let id = RunID(parsing: run) else { throw ValidationError("not a run id: \(run)") }
        let client = try redis.client()
        defer { client.close() }
        let ledger = RunLedger(redis: client)
        let deadline = ContinuousClock.now + .seconds(timeout)
        while ContinuousClock.now < deadline {
            if let record = try await ledger.run(id) {
                if record.status == .failed { throw ValidationError("run \(id) failed: \(record.error ?? "?")") }
                if record.hasCompleted(.transform), let start = record.phaseStartedAt[.transform], let end = record.phaseFinishedAt[.transform] {
                    let seconds = end.timeIntervalSince(start)
                    let rows = record.files[.extract]?.first?.rows ?? 0
                    let counts = (record.counts[.transform] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                    print("RESULT rows=\(rows) phase_seconds=\(String(format: "%.2f", seconds)) rows_per_s=\(Int(Double(rows) / max(seconds, 0.001))) counts=\(counts)")
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("run \(id) was not transformed within \(timeout) s")
    }
}
