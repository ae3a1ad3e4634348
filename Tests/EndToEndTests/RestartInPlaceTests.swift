import EndToEndSupport
import Foundation
import PipelineCore
import Testing
import TestSupport

extension EndToEnd {
    /// Chaos scenario 14: a stage dies by SIGKILL mid-run and is restarted in place, as compose
    /// restarts a container (same hostname, so the same instance identity). Its claims would
    /// live ten minutes; the restarted stage takes them over at start-up instead of waiting
    /// (docs/RELIABILITY.md, "Restarts"), and the run ends as an undisturbed one.
    @Suite struct RestartsInPlace {
        /// A claim that outlives every wait below: only a takeover lets the run finish in time.
        static func identity(_ name: String) -> [String: String] {
            ["INSTANCE_ID": name, "CLAIM_TTL_SECONDS": "600"]
        }

        @Test("14a. SIGKILL the transformer mid-file, restart it with the same identity: it takes its claim over at once")
        func transformerRestartedInPlace() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run { p in
                let (id, _) = try await p.transformerKilledAtFirstWrite(environment: Self.identity("transformer-1"))
                let restarted = try p.start(.transformer, as: "transformer-restarted", environment: Self.identity("transformer-1"))
                let record = try await p.waitFor(id, [.completed, .failed], within: .seconds(120))
                #expect(record.status == .completed, "\(restarted.tail())")
                #expect(restarted.lines(containing: "attempt 2 at this run").count == 1, "\(restarted.tail())")
                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("14b. SIGKILL the saver between its transactions, restart it with the same identity: it takes its claim over at once")
        func saverRestartedInPlace() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run { p in
                let (id, _) = try await p.saverKilledAfterUsers(environment: Self.identity("saver-1"))
                let restarted = try p.start(.saver, as: "saver-restarted", environment: Self.identity("saver-1"))
                let record = try await p.waitFor(id, [.completed, .failed], within: .seconds(120))
                #expect(record.status == .completed, "\(restarted.tail())")
                #expect(restarted.lines(containing: "run saved").count == 1, "\(restarted.tail())")
                try await p.expectSameEnd(as: reference)
            }
        }
    }
}
