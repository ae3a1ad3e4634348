import Foundation
import Logging
import PipelineCore
import PipelineRuntime

/// Cuts one run's users into chunks as pages arrive (docs/STAGING.md, "Chunks"): appends each
/// user to the open chunk's `raw.jsonl.part`, and at each checkpoint seals every full chunk
/// (fsync, rename, so the file never changes again), records the sealed chunks and the resume
/// point in the ledger in one step, and only then announces them on `channel:chunk_sealed`.
///
/// A chunk is full at the end of the page that brings it to `chunk_users` users, so chunks end
/// where pages end and a chunk's first line is always a page's first user: a resumed run whose
/// open chunk was lost starts that chunk again at `skip = first line - 1`.
///
/// Not `Sendable`: one extraction owns it.
final class ChunkSealer {
    let run: RunID
    let layout: StagingLayout
    let chunkUsers: Int
    let ledger: RunLedger
    let publisher: SignalPublisher
    let logger: Logger
    /// Sealed chunks, by index, including those of earlier attempts.
    private(set) var sealed: [SealedChunk]
    /// Where the next fetch starts (the open chunk's resume point).
    let resumeSkip: Int
    private var open: OpenChunk?
    private var full: [OpenChunk] = []
    private var repeats = RepeatedIDs()

    /// The chunk being written.
    private struct OpenChunk {
        var index: Int
        var firstLine: Int
        var writer: StagedFileWriter
        var repeats: [RepeatedID]
        var rows: Int { writer.lineCount }
    }

    /// Picks the run up where `record` left it: the sealed chunks as recorded, the open chunk
    /// truncated to the checkpoint's offset, and the ids of every line kept, replayed.
    init(run: RunID, record: RunRecord?, chunkUsers: Int, layout: StagingLayout, ledger: RunLedger,
         publisher: SignalPublisher, maxLineBytes: Int, logger: Logger) throws {
        self.run = run
        self.layout = layout
        self.chunkUsers = record?.chunks.chunkUsers ?? chunkUsers
        self.ledger = ledger
        self.publisher = publisher
        self.logger = logger
        let chunks = record?.chunks ?? RunChunks()
        sealed = (0..<chunks.sealed.count).compactMap { chunks.sealed[$0] }
        guard sealed.count == chunks.sealed.count else {
            throw ExtractionFailed(run: run, reason: "the ledger's sealed chunks are not numbered 0..<\(chunks.sealed.count)")
        }
        for chunk in sealed {
            _ = try repeats.replay(layout.chunkFile(run, chunk.index, .raw), firstLine: chunk.firstLine, maxLineBytes: maxLineBytes)
        }
        isComplete = chunks.total != nil
        let index = sealed.count
        let firstLine = (sealed.last.map { $0.firstLine + $0.rows }) ?? 1
        let path = layout.chunkFile(run, index, .raw)
        if let checkpoint = record?.checkpoint, checkpoint.offset > 0, chunks.total == nil {
            // A crash between sealing the chunk (the rename) and recording it leaves the file
            // under its final name: it is still the open chunk.
            if !FileManager.default.fileExists(atPath: path + ".part"), FileManager.default.fileExists(atPath: path) {
                try FileManager.default.moveItem(atPath: path, toPath: path + ".part")
            }
            do {
                let writer = try StagedFileWriter.resume(path: path, at: checkpoint.offset)
                let kept = try repeats.replay(writer.partPath, firstLine: firstLine, maxLineBytes: maxLineBytes)
                open = OpenChunk(index: index, firstLine: firstLine, writer: writer, repeats: kept)
                resumeSkip = checkpoint.skip
                logger.info("resuming from checkpoint", metadata: [
                    "skip": "\(checkpoint.skip)", "chunk": "\(index)", "offset": "\(checkpoint.offset)", "rows": "\(writer.lineCount)",
                ])
                return
            } catch StagingError.missing {
                logger.warning("the open chunk's staged file is gone; extracting that chunk again", metadata: ["path": "\(path).part"])
            }
        }
        resumeSkip = firstLine - 1
        if resumeSkip > 0 {
            logger.info("resuming after the sealed chunks", metadata: ["skip": "\(resumeSkip)", "chunk": "\(index)"])
        }
    }

    /// Whether the last chunk is sealed and recorded: nothing is left to fetch.
    private(set) var isComplete: Bool

    /// Appends one user (bytes as received, `id` as ``JSONTape/userID(of:in:)`` read it).
    func append(_ user: ArraySlice<UInt8>, id: Int) throws {
        if open == nil {
            let index = sealed.count + full.count
            let firstLine = (full.last.map { $0.firstLine + $0.rows }) ?? (sealed.last.map { $0.firstLine + $0.rows }) ?? 1
            open = OpenChunk(index: index, firstLine: firstLine,
                             writer: try StagedFileWriter(path: layout.chunkFile(run, index, .raw)), repeats: [])
        }
        let line = open!.firstLine + open!.rows
        if repeats.note(id) { open!.repeats.append(RepeatedID(line: line, id: id)) }
        try Self.appendUser(user, to: open!.writer)
    }

    /// Ends a page: a chunk that now holds `chunk_users` users is full and waits for the next
    /// checkpoint to be sealed.
    func endPage() {
        if let chunk = open, chunk.rows >= chunkUsers {
            full.append(chunk)
            open = nil
        }
    }

    /// Makes every appended user durable: seals the full chunks (and, when `nextSkip` reached
    /// `total`, the open one as the run's last), then records them and the resume point in one
    /// ledger write, then announces them.
    func checkpoint(nextSkip: Int, total: Int) async throws {
        let isEnd = nextSkip >= total
        if isEnd {
            if let chunk = open { full.append(chunk) }
            open = nil
            if sealed.isEmpty && full.isEmpty {
                // An empty upstream still makes one (empty) chunk, so every run has at least one.
                full.append(OpenChunk(index: 0, firstLine: 1, writer: try StagedFileWriter(path: layout.chunkFile(run, 0, .raw)), repeats: []))
            }
        }
        var newlySealed: [SealedChunk] = []
        for chunk in full {
            let staged = try chunk.writer.commit()
            newlySealed.append(SealedChunk(
                index: chunk.index, firstLine: chunk.firstLine, rows: staged.rows, bytes: staged.bytes, sha256: staged.sha256,
                sealedAt: Timestamp.format(Date()), repeats: chunk.repeats))
        }
        full.removeAll()
        let offset = try open?.writer.checkpoint() ?? 0
        try await ledger.sealChunks(newlySealed, run: run, total: isEnd ? sealed.count + newlySealed.count : nil,
                                    checkpoint: isEnd ? nil : .init(skip: nextSkip, offset: offset, total: total))
        sealed += newlySealed
        if isEnd { isComplete = true }
        for chunk in newlySealed {
            logger.info("chunk sealed", metadata: [
                "chunk": "\(chunk.index)", "rows": "\(chunk.rows)", "bytes": "\(chunk.bytes)", "first_line": "\(chunk.firstLine)",
                "repeated_ids": "\(chunk.repeats.count)",
            ])
            await publisher.publish(ChunkSignal(runID: run, phase: .extract, chunk: chunk.index, rows: chunk.rows), on: .chunkSealed, logger: logger)
        }
    }

    /// The sealed chunks' files, as the extract phase records them.
    var files: [StagedFile] {
        sealed.map { StagedFile(path: layout.chunkFile(run, $0.index, .raw), rows: $0.rows, bytes: $0.bytes, sha256: $0.sha256) }
    }

    /// Gives up on the chunks not sealed yet (their `.part` files stay for a resume to truncate).
    func close() {
        open = nil
        full.removeAll()
    }

    /// Appends one user object as received. Valid JSON has no raw newline inside a string, so a
    /// newline within an element is whitespace between tokens: it becomes a space to keep one
    /// object per line.
    static func appendUser(_ bytes: ArraySlice<UInt8>, to writer: StagedFileWriter) throws {
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return try writer.appendLine(raw) }
            // memchr rather than a generic `contains`: this runs over every byte extracted.
            if memchr(base, 0x0A, raw.count) != nil || memchr(base, 0x0D, raw.count) != nil {
                try writer.appendLine(raw.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 })
            } else {
                try writer.appendLine(raw)
            }
        }
    }
}
