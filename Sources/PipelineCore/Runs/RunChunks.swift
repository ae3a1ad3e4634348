import Foundation

/// A run's chunks as the ledger records them: the unit every stage after the extractor works
/// on (docs/STAGING.md, "Chunks").
///
/// The extractor seals `CHUNK_USERS` users at a time into a chunk that never changes again, and
/// records it (``SealedChunk``) before announcing it; the transformer records each chunk it
/// transformed (``TransformedChunk``), in any order and from any replica; the saver records each
/// chunk it made durable (``SavedChunk``), in order. Each fact is one hash field,
/// `chunk:<nnnnnn>:<phase>`, holding compact JSON, so a stage writes only its own fields.
public struct RunChunks: Sendable, Equatable {
    /// Users per chunk, fixed when the run starts (the last chunk may hold fewer).
    public var chunkUsers: Int?
    /// How many chunks the run has; known once the last one is sealed.
    public var total: Int?
    /// Sealed chunks by index.
    public var sealed: [Int: SealedChunk] = [:]
    public var transformed: [Int: TransformedChunk] = [:]
    public var saved: [Int: SavedChunk] = [:]

    public init() {}

    /// Sealed chunks without a transform record, lowest index first.
    public var awaitingTransform: [SealedChunk] {
        sealed.keys.sorted().filter { transformed[$0] == nil }.map { sealed[$0]! }
    }

    /// The first chunk not yet saved, when it is transformed and so ready for the saver.
    public var nextToSave: Int? {
        let next = (0...).first { saved[$0] == nil }!
        guard transformed[next] != nil, sealed[next] != nil else { return nil }
        return next
    }

    /// Whether every chunk of the run has a record of `phase`.
    public func allDone(_ phase: Phase) -> Bool {
        guard let total else { return false }
        return (0..<total).allSatisfy { has(phase, $0) }
    }

    public func has(_ phase: Phase, _ index: Int) -> Bool {
        switch phase {
        case .extract: sealed[index] != nil
        case .transform: transformed[index] != nil
        case .save: saved[index] != nil
        }
    }

    /// The attempt fields of one chunk, cleared together.
    public static func attemptFields(_ index: Int, _ phase: Phase) -> [String] {
        [Field.attempts(index, phase), Field.attemptStartedAt(index, phase), Field.attemptOwner(index, phase)]
    }

    /// Reads the chunk fields out of a run's hash.
    public init(fields: [String: String]) {
        chunkUsers = fields[Field.chunkUsers].flatMap(Int.init)
        total = fields[Field.chunksTotal].flatMap(Int.init)
        for (name, value) in fields where name.hasPrefix(Field.chunkPrefix) {
            guard let (index, phase) = Field.parse(name) else { continue }
            switch phase {
            case .extract: sealed[index] = JSONText.decode(SealedChunk.self, from: value)
            case .transform: transformed[index] = JSONText.decode(TransformedChunk.self, from: value)
            case .save: saved[index] = JSONText.decode(SavedChunk.self, from: value)
            }
        }
    }

    /// The hash fields that hold chunk facts.
    public enum Field {
        public static let chunkUsers = "chunk_users"
        public static let chunksTotal = "chunks_total"
        static let chunkPrefix = "chunk:"

        /// `chunk:000012:transform`: the record `phase` made of chunk 12.
        public static func chunk(_ index: Int, _ phase: Phase) -> String {
            "\(chunkPrefix)\(ChunkName.number(index)):\(phase.rawValue)"
        }

        /// Attempts in a row at one chunk (``CrashLoop``), and their start and owner.
        public static func attempts(_ index: Int, _ phase: Phase) -> String { "\(chunk(index, phase))_attempts" }
        public static func attemptStartedAt(_ index: Int, _ phase: Phase) -> String { "\(chunk(index, phase))_attempt_started_at" }
        public static func attemptOwner(_ index: Int, _ phase: Phase) -> String { "\(chunk(index, phase))_attempt_owner" }

        static func parse(_ name: String) -> (Int, Phase)? {
            let parts = name.split(separator: ":")
            guard parts.count == 3, let index = Int(parts[1]), let phase = Phase(rawValue: String(parts[2])) else { return nil }
            return (index, phase)
        }
    }
}

/// How chunks are named in keys and folders: six digits, so they sort as numbers.
public enum ChunkName {
    public static func number(_ index: Int) -> String { String(format: "%06d", index) }
}

/// A chunk the extractor sealed: its raw file's facts and where it sits in the run.
public struct SealedChunk: Sendable, Equatable, Codable {
    public var index: Int
    /// The run-wide line number of the chunk's first line (1 for chunk 0).
    public var firstLine: Int
    public var rows: Int
    public var bytes: Int
    public var sha256: String
    /// When the chunk was sealed: its rows' `extracted_at`.
    public var sealedAt: String
    /// Lines of this chunk whose `id` is a positive integer that an earlier line of the run
    /// already had: the only rule that needs the rows before a chunk, decided by the one stage
    /// that sees the run in order.
    public var repeats: [RepeatedID]

    public init(index: Int, firstLine: Int, rows: Int, bytes: Int, sha256: String, sealedAt: String, repeats: [RepeatedID]) {
        self.index = index
        self.firstLine = firstLine
        self.rows = rows
        self.bytes = bytes
        self.sha256 = sha256
        self.sealedAt = sealedAt
        self.repeats = repeats
    }

    enum CodingKeys: String, CodingKey {
        case index, firstLine = "first_line", rows, bytes, sha256, sealedAt = "sealed_at", repeats
    }

    /// The run-wide line numbers of the chunk.
    public var lines: ClosedRange<Int> { firstLine...(firstLine + max(rows, 1) - 1) }
}

/// A line whose id an earlier line of the run had.
public struct RepeatedID: Sendable, Equatable, Codable {
    public var line: Int
    public var id: Int
    public init(line: Int, id: Int) {
        self.line = line
        self.id = id
    }
}

/// A chunk the transformer finished: its three files and its counts.
public struct TransformedChunk: Sendable, Equatable, Codable {
    /// `users.jsonl`, `dlq.jsonl`, `raw.masked.jsonl` of the chunk, in that order.
    public var files: [StagedFile]
    /// The counts of `transform_counts`, for this chunk alone.
    public var counts: [String: Int]

    public init(files: [StagedFile], counts: [String: Int]) {
        self.files = files
        self.counts = counts
    }
}

/// A chunk the saver made durable in SQLite and on the SFTP server.
public struct SavedChunk: Sendable, Equatable, Codable {
    /// Rows stored: `raw`, `loaded`, `dlq`, `changed`.
    public var counts: [String: Int]
    /// The size of each remote `.part` file (`raw`, `users`, `dlq`) once the chunk was appended:
    /// where the next chunk's bytes start, and what a resumed save truncates back to.
    public var remoteBytes: [String: Int]

    public init(counts: [String: Int], remoteBytes: [String: Int]) {
        self.counts = counts
        self.remoteBytes = remoteBytes
    }

    enum CodingKeys: String, CodingKey {
        case counts, remoteBytes = "remote_bytes"
    }
}

/// The payload of the chunk channels: which chunk of which run a phase just finished. Like
/// ``PhaseSignal``, it only wakes the next stage; the ledger holds the facts.
public struct ChunkSignal: Sendable, Equatable, Codable {
    public var runID: RunID
    public var phase: Phase
    public var chunk: Int
    public var rows: Int
    public var at: String

    public init(runID: RunID, phase: Phase, chunk: Int, rows: Int, at: Date = Date()) {
        self.runID = runID
        self.phase = phase
        self.chunk = chunk
        self.rows = rows
        self.at = Timestamp.format(at)
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", phase, chunk, rows, at
    }

    public var json: String { JSONText.encode(self) }
}
