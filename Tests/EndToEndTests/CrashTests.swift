import Foundation
import ExtractorCore
import PipelineCore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
    /// Chaos scenarios 1–3: a stage dies by SIGKILL in the middle of its work and is started
    /// again, as an orchestrator would restart a container. Each run must end exactly as an
    /// undisturbed one: nothing lost, nothing duplicated.
    @Suite struct Crashes {
        @Test("1. SIGKILL the extractor mid-pagination, restart it: it resumes at the checkpoint, fetches no page twice but those in flight, and the run ends as an undisturbed one")
        func extractorKilledMidPagination() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(fixture: ["--delay-ms", "20"]) { p in
                try await p.startDownstream()
                let killed = try p.start(.extractor, as: "extractor-killed", ["--once"])
                let id = try await p.onlyRun()
                try await p.waitForCheckpoint(id, pastSkip: 1_500)
                await killed.crash()

                let atKill = try #require(try await p.record(id))
                #expect(atKill.status == .extracting)
                let skip = try #require(atKill.checkpoint?.skip)
                #expect(skip >= 1_500 && skip < Pipeline.users, "killed mid-pagination")
                #expect(FileManager.default.fileExists(atPath: p.layout.rawFile(id) + ".part"))
                #expect(!FileManager.default.fileExists(atPath: p.layout.rawFile(id)))
                let requestsBefore = try await p.fixtureStats().requests

                let restarted = try await p.extractOnce(as: "extractor-restarted")
                #expect(restarted.exitStatus == 0, "\(restarted.tail())")
                #expect(restarted.lines(containing: "resuming from checkpoint").count == 1, "\(restarted.tail())")
                try await p.waitFor(id, [.completed, .failed])

                // Resumed, not restarted: the restart fetched exactly the pages from the checkpoint on;
                // the only pages fetched twice were in flight (fetched, not yet checkpointed) at the kill.
                let requestsAfter = try await p.fixtureStats().requests
                #expect(requestsAfter - requestsBefore == (Pipeline.users - skip) / Pipeline.pageSize)
                #expect(requestsAfter <= Pipeline.users / Pipeline.pageSize + ExtractorSettings.defaultPagesInFlight)

                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("2. SIGKILL the transformer mid-file, restart it: the replacement redoes the run after the claim expires, and the run ends as an undisturbed one")
        func transformerKilledMidFile() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run { p in
                // Killed at the first write into one of its output files, before any is complete.
                let (id, killed) = try await p.transformerKilledAtFirstWrite()
                let outputs = [p.layout.usersFile(id), p.layout.dlqFile(id), p.layout.rawMaskedFile(id)]
                #expect(outputs.filter { FileManager.default.fileExists(atPath: $0) }.isEmpty, "no output was complete when it was killed")
                #expect(outputs.contains { FileManager.default.fileExists(atPath: $0 + ".part") }, "it was killed mid-file")
                #expect(killed.lines(containing: "transform summary").isEmpty)

                let restarted = try p.start(.transformer, as: "transformer-restarted")
                try await p.waitFor(id, [.completed, .failed])
                #expect(restarted.lines(containing: "transform summary").count == 1, "\(restarted.tail())")

                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("3. SIGKILL the saver between its users and DLQ transactions, restart it: the replacement saves the run again, and the run ends as an undisturbed one")
        func saverKilledBetweenTransactions() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run { p in
                // The test hook holds the saver right after the users transaction committed.
                let (id, _) = try await p.saverKilledAfterUsers()

                // Between the transactions: raw rows and users are in, the DLQ rows are not, and the
                // manifest (a consumer's sign that the run is complete) is not on the server.
                #expect(try await p.rowCount("raw_users") == reference.rows["raw_users"])
                #expect(try await p.rowCount("users") == reference.rows["users"])
                #expect(try await p.rowCount("dlq_records") == 0)
                #expect(!p.uploadedNames().contains { $0.hasSuffix("_manifest.json") }, "\(p.uploadedNames())")

                let restarted = try p.start(.saver, as: "saver-restarted")
                try await p.waitFor(id, [.completed, .failed])
                #expect(restarted.lines(containing: "run saved").count == 1, "\(restarted.tail())")

                try await p.expectSameEnd(as: reference)
            }
        }
    }
}
