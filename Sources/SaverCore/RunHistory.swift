import Foundation
import PipelineCore
import PipelineDatabase

/// How a ledger record reads as an `etl_runs` row and `etl_run_events`.
public enum RunHistory {
    /// What the ledger says happened to the run, oldest first: each phase's start and
    /// completion (with its counts), and the failure if the run failed.
    public static func events(of record: RunRecord) -> [EtlRunEvent] {
        let run = record.id.rawValue
        var events: [EtlRunEvent] = []
        for phase in Phase.allCases {
            if let started = record.phaseStartedAt[phase] {
                events.append(EtlRunEvent(runID: run, at: Timestamp.format(started), stage: phase.rawValue, event: "started"))
            }
            if let finished = record.phaseFinishedAt[phase], !(record.status == .failed && record.failedPhase == phase) {
                events.append(EtlRunEvent(runID: run, at: Timestamp.format(finished), stage: phase.rawValue, event: "completed",
                                          detail: describe(record.counts[phase] ?? [:])))
            }
        }
        if record.status == .failed {
            events.append(EtlRunEvent(runID: run, at: Timestamp.format(record.updatedAt ?? Date()), stage: record.failedPhase?.rawValue ?? "unknown",
                                      event: "failed", detail: record.error.map(URLRedaction.redactURLs(in:))))
        }
        return events.sorted { $0.at < $1.at }
    }

    /// The row of a run that is not (or not yet) completed, mirrored from the ledger: its
    /// status, failure, counts so far and staged files. `updated_at` is the ledger's, so a
    /// later scan can tell whether the row is stale.
    public static func row(mirroring record: RunRecord) -> EtlRun {
        let updated = record.updatedAt ?? record.startedAt
        let failed = record.status == .failed
        return EtlRun(
            runID: record.id.rawValue,
            status: record.status.rawValue,
            failedPhase: failed ? (record.failedPhase?.rawValue ?? "unknown") : nil,
            // Redacted again here: a ledger written before errors were redacted on the way in.
            error: failed ? (record.error.map(URLRedaction.redactURLs(in:)) ?? "no error recorded") : nil,
            startedAt: Timestamp.format(record.startedAt),
            finishedAt: failed ? Timestamp.format(updated) : nil,
            durationMs: failed ? milliseconds(from: record.startedAt, to: updated) : nil,
            extracted: record.counts[.extract]?["extracted"],
            valid: record.counts[.transform]?["valid"],
            invalid: record.counts[.transform]?["invalid"],
            loaded: nil,
            unknownDepartment: record.counts[.transform]?["unknown_department"],
            stagedFiles: JSONText.encode(stagedFiles(of: record)),
            remoteFiles: "[]",
            updatedAt: Timestamp.format(updated))
    }

    /// The files the extractor and the transformer recorded, as they recorded them: each
    /// phase's files once it is complete; before that, the transformer's chunk by chunk.
    public static func stagedFiles(of record: RunRecord) -> [StagedFile] {
        let transformed = record.files[.transform]
            ?? record.chunks.transformed.sorted { $0.key < $1.key }.flatMap(\.value.files)
        return (record.files[.extract] ?? []) + transformed
    }

    static func milliseconds(from start: Date, to end: Date) -> Int {
        max(0, Int((end.timeIntervalSince(start) * 1000).rounded()))
    }

    /// `a=1 b=2`, keys sorted.
    static func describe(_ counts: [String: Int]) -> String? {
        counts.isEmpty ? nil : counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
