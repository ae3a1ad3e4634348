import Foundation
import PipelineCore
import PipelineDatabase

/// When each phase of a run ran, read from its `etl_run_events` (the saver writes a `started`
/// event per phase and a `completed` or `failed` one when it ended; docs/API.md).
struct PhaseSpan: Sendable, Equatable {
    enum State: String, Sendable {
        case completed, failed
        /// Started and not ended (yet): drawn up to the end of the chart.
        case running
    }

    var phase: String
    var start: Date
    var end: Date?
    var state: State
}

enum PhaseTimeline {
    /// One span per phase that started, in pipeline order: from its last `started` event (a phase
    /// retried after a crash counts its last attempt) to the first `completed` or `failed` event
    /// of the same stage after it.
    static func spans(_ events: [EtlRunEvent]) -> [PhaseSpan] {
        Phase.allCases.compactMap { phase -> PhaseSpan? in
            let stage = events.filter { $0.stage == phase.rawValue }
            guard let startIndex = stage.lastIndex(where: { $0.event == "started" }),
                let start = Timestamp.parse(stage[startIndex].at)
            else { return nil }
            let end = stage[(startIndex + 1)...].first { $0.event == "completed" || $0.event == "failed" }
            guard let end, let at = Timestamp.parse(end.at) else {
                return PhaseSpan(phase: phase.rawValue, start: start, end: nil, state: .running)
            }
            return PhaseSpan(phase: phase.rawValue, start: start, end: max(at, start), state: end.event == "failed" ? .failed : .completed)
        }
    }
}
