import Foundation
import PipelineCore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

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
                try await p.startAPI()
                try p.start(.saver)
                let extractor = try await p.extractOnce()
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                let id = try await p.onlyRun()
                try await p.waitFor(id, [.extracted])

                let writes = try FileWrites(in: p.layout.runDirectory(id)) { $0.hasSuffix(".part") }
                let killed = try p.start(.transformer, as: "transformer-killed", environment: Self.identity("transformer-1"))
                let pid = killed.pid
                #expect(try await writes.firstWrite(within: .seconds(120)) { _ in kill(pid, SIGKILL) } != nil)
                #expect(await killed.waitForExit(timeout: .seconds(10)))
                #expect(try await p.record(id)?.status == .transforming)

                let restarted = try p.start(.transformer, as: "transformer-restarted", environment: Self.identity("transformer-1"))
                let record = try await p.waitFor(id, [.completed, .failed], within: .seconds(120))
                #expect(record.status == .completed, "\(restarted.tail())")
                #expect(record.attempts[.transform] == nil, "the count is cleared when the phase completes")
                #expect(restarted.lines(containing: "attempt 2 at this run").count == 1, "\(restarted.tail())")
                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("14b. SIGKILL the saver between its transactions, restart it with the same identity: it takes its claim over at once")
        func saverRestartedInPlace() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run { p in
                try await p.startAPI()
                try p.start(.transformer)
                let killed = try p.start(.saver, as: "saver-killed",
                                         environment: Self.identity("saver-1").merging(["SAVER_TEST_PAUSE_AFTER": "users"]) { $1 })
                let extractor = try await p.extractOnce()
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                let id = try await p.onlyRun()
                #expect(try await eventually(within: .seconds(120)) { !killed.lines(containing: "test hook: pausing after users").isEmpty },
                        "\(killed.tail())")
                await killed.crash()
                #expect(try await p.record(id)?.status == .saving)

                let restarted = try p.start(.saver, as: "saver-restarted", environment: Self.identity("saver-1"))
                let record = try await p.waitFor(id, [.completed, .failed], within: .seconds(120))
                #expect(record.status == .completed, "\(restarted.tail())")
                #expect(restarted.lines(containing: "run saved").count == 1, "\(restarted.tail())")
                try await p.expectSameEnd(as: reference)
            }
        }
    }
}
