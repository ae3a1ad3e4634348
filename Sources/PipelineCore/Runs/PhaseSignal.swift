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

    /// The payload as published: compact JSON with sorted keys.
    public var json: String { JSONText.encode(self) }

    public static func decode(_ payload: some Collection<UInt8>) throws -> PhaseSignal {
        try JSONText.decode(PhaseSignal.self, from: payload)
    }
}
