import Foundation

/// The JSON payload published on a phase channel (docs/ARCHITECTURE.md, "Signals").
///
/// It repeats what the ledger already holds, so a subscriber can act on it at once; the ledger
/// stays the source of truth, because pub/sub delivers at most once.
public struct PhaseSignal: Sendable, Equatable, Codable {
    public var runID: RunID
    public var phase: Phase
    public var status: RunStatus
    public var at: Date
    public var files: [StagedFile]
    public var counts: [String: Int]
    /// Set on `channel:run_failed`.
    public var error: String?

    public init(runID: RunID, phase: Phase, status: RunStatus, at: Date, files: [StagedFile] = [], counts: [String: Int] = [:], error: String? = nil) {
        self.runID = runID
        self.phase = phase
        self.status = status
        self.at = at
        self.files = files
        self.counts = counts
        self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", phase, status, at, files, counts, error
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        runID = try c.decode(RunID.self, forKey: .runID)
        phase = try c.decode(Phase.self, forKey: .phase)
        status = try c.decode(RunStatus.self, forKey: .status)
        let text = try c.decode(String.self, forKey: .at)
        guard let date = Timestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .at, in: c, debugDescription: "not an ISO 8601 time: \(text)")
        }
        at = date
        files = try c.decodeIfPresent([StagedFile].self, forKey: .files) ?? []
        counts = try c.decodeIfPresent([String: Int].self, forKey: .counts) ?? [:]
        error = try c.decodeIfPresent(String.self, forKey: .error)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(runID, forKey: .runID)
        try c.encode(phase, forKey: .phase)
        try c.encode(status, forKey: .status)
        try c.encode(Timestamp.format(at), forKey: .at)
        try c.encode(files, forKey: .files)
        try c.encode(counts, forKey: .counts)
        try c.encodeIfPresent(error, forKey: .error)
    }

    /// The payload as published: compact JSON with sorted keys.
    public var json: String { JSONText.encode(self) }

    public static func decode(_ payload: some Collection<UInt8>) throws -> PhaseSignal {
        try JSONDecoder().decode(PhaseSignal.self, from: Data(payload))
    }
}
