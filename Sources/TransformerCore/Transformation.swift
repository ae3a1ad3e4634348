import Crypto
import Foundation
import Logging
import PipelineCore
import PipelineRedis
import PipelineRuntime

/// The transformer's phase work for one claimed chunk of a run (the `work` of ``PhaseWorker``,
/// `.eachChunk`): check the chunk's `raw.jsonl` against what the extractor sealed, then
/// transform it into the chunk folder's `users.jsonl`, `dlq.jsonl` and `raw.masked.jsonl`.
public struct Transformation: Sendable {
    /// The ledger field holding the run's key for digests of rejected lines (hex, 256 bits).
    public static let lineDigestKeyField = "line_digest_key"

    public let rules: TransformRules
    public let layout: StagingLayout
    public let redis: RedisClient
    /// Batches processed in parallel (see ``FileTransform/workers``).
    public var workers: Int
    /// The longest `raw.jsonl` line accepted (`MAX_USER_BYTES`).
    public var maxUserBytes: Int

    public init(rules: TransformRules, layout: StagingLayout, redis: RedisClient,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount, maxUserBytes: Int = defaultMaxUserBytes) {
        self.rules = rules
        self.layout = layout
        self.redis = redis
        self.workers = workers
        self.maxUserBytes = maxUserBytes
    }

    /// Transforms `chunk` of `run`; throws ``TransformFailed`` when it cannot be transformed (the
    /// caller records the run as failed), `CancellationError` when cancelled.
    public func work(_ run: RunRecord, chunk: SealedChunk, logger: Logger) async throws -> TransformedChunk {
        // Read back from the ledger, as stored, so that every attempt and replica writes the same
        // rows: the times every row repeats (`run` was read before the phase began) and the key of
        // the digests of lines that are not JSON objects (made by the first attempt at any chunk,
        // and kept only in the ledger).
        let candidateKey = SymmetricKey(size: .bits256).withUnsafeBytes { Hex.encode($0) }
        // Through the ledger, which rides out a Redis restart, so one does not fail the run.
        let fields = try await RunLedger(redis: redis).setOnce(Self.lineDigestKeyField, to: candidateKey, run: run.id)
        guard let keyHex = fields[Self.lineDigestKeyField], let keyBytes = Hex.decode(keyHex), keyBytes.count == 32 else {
            throw TransformFailed("the ledger's \(Self.lineDigestKeyField) for the run is not 64 hex digits")
        }
        guard RunRecord(fields: fields) != nil else { throw TransformFailed("the ledger has no record of the run") }
        guard let transformedAt = fields[RunRecord.Field.startedAt(.transform)] else {
            throw TransformFailed("the ledger has no \(RunRecord.Field.startedAt(.transform)) for the run")
        }
        // How errors name the chunk: its index and run-wide lines.
        let chunkName = chunk.rows > 0 ? "chunk \(chunk.index) (lines \(chunk.firstLine)-\(chunk.firstLine + chunk.rows - 1))" : "chunk \(chunk.index)"
        if let stray = chunk.repeats.first(where: { !chunk.lines.contains($0.line) }) {
            throw TransformFailed("\(chunkName): the ledger lists a repeated id on line \(stray.line), outside the chunk")
        }
        let paths = TransformPaths(layout: layout, run: run.id, chunk: chunk.index)
        let expected = StagedFile(path: paths.raw, rows: chunk.rows, bytes: chunk.bytes, sha256: chunk.sha256)
        let transform = FileTransform(
            paths: paths, rules: rules,
            context: TransformContext(runID: run.id.rawValue, extractedAt: chunk.sealedAt, transformedAt: transformedAt,
                                      lineDigestKey: SymmetricKey(data: keyBytes)),
            workers: workers, expectedRows: chunk.rows, maxLineBytes: maxUserBytes,
            firstLine: chunk.firstLine, repeats: chunk.repeats, logger: logger)
        logger.info("transforming chunk", metadata: [
            "raw": "\(paths.raw)", "first_line": "\(chunk.firstLine)", "rows": "\(chunk.rows)", "bytes": "\(chunk.bytes)",
            "repeated_ids": "\(chunk.repeats.count)", "transformed_at": "\(transformedAt)",
        ])
        let summary = try await onDedicatedThread(name: "transform") { cancellation in
            let started = ContinuousClock.now
            do {
                try expected.verify()
            } catch let error as StagingError {
                throw TransformFailed("\(chunkName): raw.jsonl does not match what the extractor recorded, so it was not transformed: \(error)")
            }
            logger.info("raw.jsonl matches the ledger", metadata: [
                "rows": "\(expected.rows)", "sha256": "\(expected.sha256)", "ms": "\(Int((ContinuousClock.now - started).seconds * 1000))",
            ])
            if cancellation.isCancelled { throw CancellationError() }
            defer { FreedMemory.release() }
            do {
                return try transform.run(cancellation: cancellation)
            } catch StagingError.lineTooLong(_, let line, let limit) {
                throw TransformFailed("\(chunkName): raw.jsonl line \(line) is longer than MAX_USER_BYTES (\(limit) bytes)")
            }
        }
        return TransformedChunk(files: summary.files, counts: summary.counts)
    }
}

/// A run that cannot be transformed; the ledger records ``reason`` as the run's error.
public struct TransformFailed: Error, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Runs blocking, CPU-bound `body` on a thread of its own, so the cooperative pool (two threads
/// on a two-core machine) keeps serving the claim renewal and the subscriber. Cancelling the
/// task sets the flag `body` checks.
func onDedicatedThread<T: Sendable>(name: String, _ body: @escaping @Sendable (CancellationFlag) throws -> T) async throws -> T {
    let flag = CancellationFlag()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                continuation.resume(with: Result { try body(flag) })
            }
            thread.name = name
            thread.stackSize = 8 << 20
            thread.start()
        }
    } onCancel: {
        flag.cancel()
    }
}

