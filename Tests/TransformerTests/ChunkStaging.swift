import Foundation
import Logging
import PipelineCore
import PipelineJSON
import PipelineRedis
import PipelineRuntime

/// A run staged the way the extractor stages it (docs/STAGING.md): its lines cut into chunks of
/// `chunkUsers`, each chunk's `raw.jsonl` written into its folder, then sealed in the ledger
/// (with the lines that repeat an earlier line's id) and announced on `channel:chunk_sealed`.
struct ChunkedRun {
    let id: RunID
    let chunkUsers: Int
    let chunks: [SealedChunk]
    /// Each chunk's `raw.jsonl`.
    let contents: [Data]
    let rows: Int

    /// Cuts `lines` (without their newlines); chunk `n` is sealed at `sealedAt` + `n` seconds,
    /// so each chunk's rows carry their own `extracted_at`.
    init(id: RunID = RunID(), lines: [[UInt8]], chunkUsers: Int, sealedAt: Date = Date(timeIntervalSince1970: 1_795_000_000)) {
        precondition(chunkUsers > 0)
        self.id = id
        self.chunkUsers = chunkUsers
        rows = lines.count
        let repeats = Self.repeatedIDs(lines)
        var chunks: [SealedChunk] = []
        var contents: [Data] = []
        for (index, start) in stride(from: 0, to: max(lines.count, 1), by: chunkUsers).enumerated() {
            let part = lines[start..<min(start + chunkUsers, lines.count)]
            var data = Data()
            for line in part { data.append(contentsOf: line); data.append(0x0A) }
            let range = (start + 1)...(start + max(part.count, 1))
            chunks.append(SealedChunk(
                index: index, firstLine: start + 1, rows: part.count, bytes: data.count, sha256: SHA256Digest.hex(of: data),
                sealedAt: Timestamp.format(sealedAt.addingTimeInterval(Double(index))),
                repeats: repeats.filter { range.contains($0.line) }))
            contents.append(data)
        }
        self.chunks = chunks
        self.contents = contents
    }

    /// The lines of a file, without their newlines.
    static func lines(ofFile path: String) throws -> [[UInt8]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { [UInt8]($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    /// The run-wide lines whose `id` is a positive integer an earlier line of the run had: what
    /// the extractor records as each chunk's `repeats`. Read here with the project's JSON
    /// parser; like the rules, it reads a line's last `id`.
    static func repeatedIDs(_ lines: [[UInt8]]) -> [RepeatedID] {
        var seen: Set<Int> = []
        var repeats: [RepeatedID] = []
        for (k, line) in lines.enumerated() {
            guard let members = try? JSONValue.parse(line).objectValue,
                  let id = members.last(where: { $0.key == "id" })?.value.intValue, id > 0 else { continue }
            if !seen.insert(id).inserted { repeats.append(RepeatedID(line: k + 1, id: id)) }
        }
        return repeats
    }

    /// Registers the run as `extracting`, cut into chunks of ``chunkUsers``.
    func start(_ ledger: RunLedger) async throws {
        _ = try await ledger.startRun(id, chunkUsers: chunkUsers)
    }

    /// Writes the chunks `indices` into their folders, records each as sealed (the run's last
    /// chunk with the chunk count) and announces it, as the extractor does.
    func seal(_ indices: Range<Int>? = nil, layout: StagingLayout, ledger: RunLedger) async throws {
        for index in indices ?? chunks.indices {
            let path = layout.chunkFile(id, index, .raw)
            try FileManager.default.createDirectory(atPath: layout.chunkDirectory(id, index), withIntermediateDirectories: true)
            try contents[index].write(to: URL(fileURLWithPath: path))
            let chunk = chunks[index]
            try await ledger.sealChunk(chunk, run: id, isLast: index == chunks.count - 1, checkpoint: nil)
            _ = await SignalPublisher(redis: ledger.redis).publish(
                ChunkSignal(runID: id, phase: .extract, chunk: index, rows: chunk.rows), on: .chunkSealed, logger: Logger(label: "test"))
        }
    }

    /// Completes the extract phase and announces it, as the extractor does once the last chunk is sealed.
    func completeExtraction(layout: StagingLayout, ledger: RunLedger) async throws {
        let files = chunks.map { StagedFile(path: layout.chunkFile(id, $0.index, .raw), rows: $0.rows, bytes: $0.bytes, sha256: $0.sha256) }
        let signal = try await ledger.completePhase(.extract, run: id, files: files, counts: ["extracted": rows])
        _ = await SignalPublisher(redis: ledger.redis).publish(signal, on: .phase1Complete, logger: Logger(label: "test"))
    }

    /// All of it: started, every chunk sealed, the extraction completed.
    func stage(layout: StagingLayout, ledger: RunLedger) async throws {
        try await start(ledger)
        try await seal(layout: layout, ledger: ledger)
        try await completeExtraction(layout: layout, ledger: ledger)
    }

    /// The transformer's outputs of every chunk, in chunk order: users, dlq, raw.masked of chunk 0, then of chunk 1, …
    func outputs(_ layout: StagingLayout) -> [String] {
        chunks.flatMap { chunk in [ChunkFile.users, .dlq, .rawMasked].map { layout.chunkFile(id, chunk.index, $0) } }
    }

    /// One output of the run: the chunks' files of that kind, concatenated in chunk order.
    func concatenated(_ file: ChunkFile, _ layout: StagingLayout) throws -> Data {
        var data = Data()
        for chunk in chunks { data.append(try Data(contentsOf: URL(fileURLWithPath: layout.chunkFile(id, chunk.index, file)))) }
        return data
    }
}
