/// The three phases a run goes through, one per stage that writes.
public enum Phase: String, Sendable, Codable, CaseIterable, Comparable {
    case extract, transform, save

    /// The status once this phase is done.
    public var doneStatus: RunStatus {
        switch self {
        case .extract: .extracted
        case .transform: .transformed
        case .save: .completed
        }
    }

    /// The phase whose completion makes a run ready for this one.
    public var previous: Phase? {
        switch self {
        case .extract: nil
        case .transform: .extract
        case .save: .transform
        }
    }

    /// The channel this phase publishes on when it finishes a chunk of a run, if the next phase
    /// takes chunks from it.
    public var chunkChannel: Channel? {
        switch self {
        case .extract: .chunkSealed
        case .transform: .chunkTransformed
        case .save: nil
        }
    }

    /// The channel this phase publishes on when it completes a run.
    public var completionChannel: Channel {
        switch self {
        case .extract: .phase1Complete
        case .transform: .phase2Complete
        case .save: .phase3Complete
        }
    }

    public static func < (lhs: Phase, rhs: Phase) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Where a run is: `extracting → extracted → transforming → transformed → saving → completed`,
/// or `failed` (with the failing phase and an error).
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case extracting, extracted, transforming, transformed, saving, completed, failed
}

/// The pub/sub channels (docs/ARCHITECTURE.md, "Signals").
public enum Channel: String, Sendable, CaseIterable {
    case phase1Complete = "channel:phase1_complete"
    case phase2Complete = "channel:phase2_complete"
    case phase3Complete = "channel:phase3_complete"
    case runFailed = "channel:run_failed"
    /// A chunk was sealed (``ChunkSignal``): the transformers' wake-up.
    case chunkSealed = "channel:chunk_sealed"
    /// A chunk was transformed: the saver's wake-up.
    case chunkTransformed = "channel:chunk_transformed"
}

/// The Redis keys of the run ledger (docs/ARCHITECTURE.md, "Ledger").
public enum LedgerKey {
    /// Sorted set of run ids scored by start time (Unix seconds).
    public static let runs = "etl:runs"
    /// Hash holding one run's record.
    public static func run(_ id: RunID) -> String { "etl:run:\(id)" }
    /// A stage's claim on a run: `SET … NX PX`.
    public static func lock(_ phase: Phase, _ id: RunID) -> String { "etl:lock:\(phase.rawValue):\(id)" }
    /// A stage's claim on one chunk of a run.
    public static func lock(_ phase: Phase, _ id: RunID, chunk: Int) -> String { "\(lock(phase, id)):\(ChunkName.number(chunk))" }
}
