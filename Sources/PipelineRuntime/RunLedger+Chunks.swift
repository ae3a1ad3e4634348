import Foundation
import PipelineCore
import PipelineRedis

extension RunLedger {
    /// Records sealed chunks and, with them, the extractor's resume point, in one `HSET`; `total`
    /// (the run's chunk count) when the last chunk is among them. Call it only once the chunks'
    /// files are durable, and before announcing them.
    public func sealChunks(_ chunks: [SealedChunk], run id: RunID, total: Int?, checkpoint: RunRecord.Checkpoint?) async throws {
        var fields: [String: String] = [:]
        for chunk in chunks { fields[RunChunks.Field.chunk(chunk.index, .extract)] = JSONText.encode(chunk) }
        if let total { fields[RunChunks.Field.chunksTotal] = String(total) }
        if let checkpoint { fields.merge(checkpoint.fields) { $1 } }
        guard !fields.isEmpty else { return }
        _ = try await call { try await redis.hset(LedgerKey.run(id), fields) }
    }

    /// ``sealChunks(_:run:total:checkpoint:)`` for one chunk, the run's last when `isLast`.
    public func sealChunk(_ chunk: SealedChunk, run id: RunID, isLast: Bool, checkpoint: RunRecord.Checkpoint? = nil) async throws {
        try await sealChunks([chunk], run: id, total: isLast ? chunk.index + 1 : nil, checkpoint: checkpoint)
    }

    /// Records what the transformer made of a chunk, and clears the chunk's attempt count.
    public func recordTransformed(_ chunk: TransformedChunk, index: Int, run id: RunID, at date: Date = Date()) async throws {
        try await update(id, phase: nil, set: [
            RunChunks.Field.chunk(index, .transform): JSONText.encode(chunk),
            RunRecord.Field.updatedAt: Timestamp.format(date),
        ], delete: RunChunks.attemptFields(index, .transform))
    }

    /// Records a chunk the saver made durable in SQLite and on the server.
    public func recordSaved(_ chunk: SavedChunk, index: Int, run id: RunID, at date: Date = Date()) async throws {
        try await update(id, phase: nil, set: [
            RunChunks.Field.chunk(index, .save): JSONText.encode(chunk),
            RunRecord.Field.updatedAt: Timestamp.format(date),
        ], delete: [])
    }

    /// Runs that may have work for a stage that works chunk by chunk, oldest first: every run
    /// among the newest `scanLimit` that is neither `completed` nor `failed`.
    public func unfinishedRuns(scanLimit: Int = 1000) async throws -> [RunID] {
        try await scan(RunStatus.allCases.filter { $0 != .completed && $0 != .failed }, limit: scanLimit).reversed()
    }
}
