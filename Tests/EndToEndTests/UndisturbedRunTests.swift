import EndToEndSupport
import Foundation
import PipelineCore
import Testing
import TestSupport

/// Every end-to-end test owns the same Redis and SFTP ports (and stops and restarts them), so
/// they run one at a time, nested in this suite. The limit turns a hang into a failure.
@Suite(.serialized, .timeLimit(.minutes(10))) struct EndToEnd {}

extension EndToEnd {
    /// The pipeline as a user runs it, with nothing going wrong: the reference every chaos
    /// scenario's final state is compared with.
    @Suite struct UndisturbedRun {
        @Test("one cycle through four processes: every row in SQLite, three JSONL files and the manifest on the SFTP server, completed in GET /etl_runs")
        func oneCycle() async throws {
            let state = try await ReferenceRun.shared.state()
            #expect(state.problems.isEmpty, "\(state)")

            let users = Pipeline.users
            let bad = await ReferenceRun.shared.badRows
            #expect(bad == Int((Double(users) * Pipeline.badFraction).rounded()))
            let good = users - bad
            #expect(state.runs == ["completed failed_phase=- extracted=\(users) valid=\(good) invalid=\(bad) loaded=\(good)"])
            #expect(state.rows == ["etl_runs": 1, "raw_users": users, "users": good, "dlq_records": bad])
            #expect(state.files.keys.sorted() == ["RUN_dlq.jsonl", "RUN_manifest.json", "RUN_raw.jsonl", "RUN_users.jsonl"])
            #expect(state.manifest?.hasPrefix("status=completed") == true, "\(state)")
            #expect(state.rawSHA256 != nil)
        }
    }
}
