import Foundation

/// One run as the ledger hash `etl:run:<run_id>` holds it.
///
/// The hash stays flat (one field per fact) so that each stage updates only its own fields with
/// one `HSET` and no read-modify-write; files and counts are small JSON values.
public struct RunRecord: Sendable, Equatable {
    public var id: RunID
    public var status: RunStatus
    public var startedAt: Date
    public var updatedAt: Date?
    /// Set when ``status`` is `failed`.
    public var failedPhase: Phase?
    public var error: String?
    public var phaseStartedAt: [Phase: Date] = [:]
    public var phaseFinishedAt: [Phase: Date] = [:]
    /// The staged (or, for `save`, remote) files each phase produced.
    public var files: [Phase: [StagedFile]] = [:]
    /// Named counts per phase (`extracted`; `valid`, `invalid`, `unknown_department`; `loaded`…).
    public var counts: [Phase: [String: Int]] = [:]
    /// The extractor's resume point: the next `skip`, the durable byte offset of `raw.jsonl.part`,
    /// and the upstream's `total`, which must not change while the run pages through it.
    public var checkpoint: Checkpoint?
    /// Per phase, the attempts in a row that began on this run and have not ended in a handled
    /// way (completed, failed with a reason, or stopped gracefully): each one a stage process
    /// that died on the run. See ``RunLedger/beginAttempt`` in PipelineRuntime.
    public var attempts: [Phase: Int] = [:]
    /// The run's chunks: sealed by the extractor, then transformed and saved one by one.
    public var chunks = RunChunks()

    public struct Checkpoint: Sendable, Equatable, Codable {
        public var skip: Int
        public var offset: Int
        public var total: Int
        public init(skip: Int, offset: Int, total: Int) {
            self.skip = skip
            self.offset = offset
            self.total = total
        }

        /// The hash fields that hold it.
        public var fields: [String: String] {
            [Field.checkpointSkip: String(skip), Field.checkpointOffset: String(offset), Field.checkpointTotal: String(total)]
        }
    }

    public init(id: RunID, status: RunStatus, startedAt: Date) {
        self.id = id
        self.status = status
        self.startedAt = startedAt
    }

    /// The hash fields, as `HSET` writes them.
    public var fields: [String: String] {
        var f: [String: String] = [
            Field.runID: id.rawValue,
            Field.status: status.rawValue,
            Field.startedAt: Timestamp.format(startedAt),
        ]
        if let updatedAt { f[Field.updatedAt] = Timestamp.format(updatedAt) }
        if let failedPhase { f[Field.failedPhase] = failedPhase.rawValue }
        if let error { f[Field.error] = error }
        for (phase, date) in phaseStartedAt { f[Field.startedAt(phase)] = Timestamp.format(date) }
        for (phase, date) in phaseFinishedAt { f[Field.finishedAt(phase)] = Timestamp.format(date) }
        for (phase, list) in files { f[Field.files(phase)] = JSONText.encode(list) }
        for (phase, dict) in counts { f[Field.counts(phase)] = JSONText.encode(dict) }
        if let checkpoint { f.merge(checkpoint.fields) { $1 } }
        for (phase, count) in attempts { f[Field.attempts(phase)] = String(count) }
        if let chunkUsers = chunks.chunkUsers { f[RunChunks.Field.chunkUsers] = String(chunkUsers) }
        if let total = chunks.total { f[RunChunks.Field.chunksTotal] = String(total) }
        for (index, chunk) in chunks.sealed { f[RunChunks.Field.chunk(index, .extract)] = JSONText.encode(chunk) }
        for (index, chunk) in chunks.transformed { f[RunChunks.Field.chunk(index, .transform)] = JSONText.encode(chunk) }
        for (index, chunk) in chunks.saved { f[RunChunks.Field.chunk(index, .save)] = JSONText.encode(chunk) }
        return f
    }

    /// Rebuilds a record from `HGETALL`; `nil` when the hash lacks the run id, status or start.
    public init?(fields f: [String: String]) {
        guard let id = f[Field.runID].flatMap(RunID.init(parsing:)),
              let status = f[Field.status].flatMap(RunStatus.init(rawValue:)),
              let startedAt = f[Field.startedAt].flatMap(Timestamp.parse)
        else { return nil }
        self.init(id: id, status: status, startedAt: startedAt)
        updatedAt = f[Field.updatedAt].flatMap(Timestamp.parse)
        failedPhase = f[Field.failedPhase].flatMap(Phase.init(rawValue:))
        error = f[Field.error]
        for phase in Phase.allCases {
            phaseStartedAt[phase] = f[Field.startedAt(phase)].flatMap(Timestamp.parse)
            phaseFinishedAt[phase] = f[Field.finishedAt(phase)].flatMap(Timestamp.parse)
            files[phase] = f[Field.files(phase)].flatMap { JSONText.decode([StagedFile].self, from: $0) }
            counts[phase] = f[Field.counts(phase)].flatMap { JSONText.decode([String: Int].self, from: $0) }
            attempts[phase] = f[Field.attempts(phase)].flatMap(Int.init)
        }
        if let skip = f[Field.checkpointSkip].flatMap(Int.init), let offset = f[Field.checkpointOffset].flatMap(Int.init),
           let total = f[Field.checkpointTotal].flatMap(Int.init) {
            checkpoint = Checkpoint(skip: skip, offset: offset, total: total)
        }
        chunks = RunChunks(fields: f)
    }

    /// Whether `phase` has finished this run (its status is at or past the phase's done status).
    public func hasCompleted(_ phase: Phase) -> Bool {
        phaseFinishedAt[phase] != nil && status != .failed || Self.order(status) >= Self.order(phase.doneStatus)
    }

    private static func order(_ status: RunStatus) -> Int {
        status == .failed ? -1 : RunStatus.allCases.firstIndex(of: status)!
    }

    /// The hash's field names.
    public enum Field {
        public static let runID = "run_id"
        public static let status = "status"
        public static let startedAt = "started_at"
        public static let updatedAt = "updated_at"
        public static let failedPhase = "failed_phase"
        public static let error = "error"
        public static let checkpointSkip = "checkpoint_skip"
        public static let checkpointOffset = "checkpoint_offset"
        public static let checkpointTotal = "checkpoint_total"
        public static let checkpointFields = [checkpointSkip, checkpointOffset, checkpointTotal]
        public static func startedAt(_ phase: Phase) -> String { "\(phase.rawValue)_started_at" }
        public static func finishedAt(_ phase: Phase) -> String { "\(phase.rawValue)_finished_at" }
        public static func files(_ phase: Phase) -> String { "\(phase.rawValue)_files" }
        public static func counts(_ phase: Phase) -> String { "\(phase.rawValue)_counts" }
        /// Attempts in a row on the run that have not ended in a handled way (a count).
        public static func attempts(_ phase: Phase) -> String { "\(phase.rawValue)_attempts" }
        /// When the latest of those attempts began, and who made it (the claim owner, host:pid:tag).
        public static func attemptStartedAt(_ phase: Phase) -> String { "\(phase.rawValue)_attempt_started_at" }
        public static func attemptOwner(_ phase: Phase) -> String { "\(phase.rawValue)_attempt_owner" }
        /// The three attempt fields, cleared together when an attempt ends in a handled way.
        public static func attemptFields(_ phase: Phase) -> [String] { [attempts(phase), attemptStartedAt(phase), attemptOwner(phase)] }
    }
}

/// ISO 8601 UTC timestamps with milliseconds, the one format the ledger, signals and logs use.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func parse(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}

/// Compact, key-sorted JSON for small values stored in hash fields and signal payloads, dates
/// as ``Timestamp``s.
public enum JSONText {
    public static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: some Collection<UInt8>) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 time: \(text)")
            }
            return date
        }
        return try decoder.decode(T.self, from: Data(text))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from text: String) -> T? {
        try? decode(type, from: Array(text.utf8))
    }
}
