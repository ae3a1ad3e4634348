import EndToEndSupport
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
                // Killed after chunk 0 was sealed, with the next chunk open.
                let open = atKill.chunks.sealed.count
                #expect(open == skip / Pipeline.chunkUsers, "every full chunk is sealed: \(atKill.chunks.sealed.keys.sorted())")
                #expect(open >= 1)
                // The open chunk is a .part, unless the kill fell between its seal's rename and the
                // ledger write that records it: then it is under its final name, unrecorded, and the
                // restart reopens it (ChunkSealer).
                let renamedUnrecorded = FileManager.default.fileExists(atPath: p.layout.chunkFile(id, open, .raw))
                if (atKill.checkpoint?.offset ?? 0) > 0 {
                    #expect(FileManager.default.fileExists(atPath: p.layout.chunkFile(id, open, .raw) + ".part") != renamedUnrecorded)
                } else {
                    #expect(!renamedUnrecorded, "an open chunk without a checkpoint offset was never written")
                }
                let requestsBefore = try await p.fixtureStats().requests

                let restarted = try await p.extractOnce(as: "extractor-restarted")
                #expect(restarted.exitStatus == 0, "\(restarted.tail())")
                // From the checkpoint in the open chunk, or right after the sealed ones when it was empty.
                #expect(restarted.lines(containing: "resuming").count == 1, "\(restarted.tail())")
                try await p.waitFor(id, [.completed, .failed])

                // Resumed, not restarted: the restart fetched exactly the pages from the checkpoint on;
                // the only pages fetched twice were in flight (fetched, not yet checkpointed) at the kill.
                let requestsAfter = try await p.fixtureStats().requests
                #expect(requestsAfter - requestsBefore == (Pipeline.users - skip) / Pipeline.pageSize)
                #expect(requestsAfter <= Pipeline.users / Pipeline.pageSize + ExtractorSettings.defaultPagesInFlight)

                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("2. SIGKILL the transformer mid-chunk, restart it: the replacement redoes that chunk after its claim expires, and the run ends as an undisturbed one")
        func transformerKilledMidFile() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run { p in
                // Killed at the first write into one of its output files, before any is complete.
                let (id, killed) = try await p.transformerKilledAtFirstWrite()
                let outputs = [ChunkFile.users, .dlq, .rawMasked].map { p.layout.chunkFile(id, 0, $0) }
                #expect(outputs.filter { FileManager.default.fileExists(atPath: $0) }.isEmpty, "no output was complete when it was killed")
                #expect(outputs.contains { FileManager.default.fileExists(atPath: $0 + ".part") }, "it was killed mid-file")
                #expect(killed.lines(containing: "transform summary").isEmpty)

                let restarted = try p.start(.transformer, as: "transformer-restarted")
                try await p.waitFor(id, [.completed, .failed])
                // One transform per chunk: the killed one finished none.
                #expect(restarted.lines(containing: "transform summary").count == Pipeline.users / Pipeline.chunkUsers, "\(restarted.tail())")

                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("3. SIGKILL the saver between the users and DLQ transactions of a chunk, restart it: the replacement saves that chunk again, and the run ends as an undisturbed one")
        func saverKilledBetweenTransactions() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run { p in
                // The test hook holds the saver right after the users transaction committed.
                let (id, _) = try await p.saverKilledAfterUsers()

                // Between the transactions of chunk 0: its raw rows and users are in, its DLQ rows are
                // not, and the manifest (a consumer's sign that the run is complete) is not on the server.
                #expect(try await p.rowCount("raw_users") == Pipeline.chunkUsers)
                let users = try await p.rowCount("users")
                #expect(users > 0 && users < (reference.rows["users"] ?? 0))
                #expect(try await p.rowCount("dlq_records") == 0)
                #expect(!p.uploadedNames().contains { $0.hasSuffix("_manifest.json") }, "\(p.uploadedNames())")

                let restarted = try p.start(.saver, as: "saver-restarted")
                try await p.waitFor(id, [.completed, .failed])
                #expect(restarted.lines(containing: "run saved").count == 1, "\(restarted.tail())")

                try await p.expectSameEnd(as: reference)
            }
        }

        /// Also with encrypted uploads: the replacement writes the `.age` files again from their
        /// first byte with fresh file keys, and they decrypt to the undisturbed run's files.
        @Test("3b. SIGKILL the saver between two chunks, restart it: the replacement resumes at the next chunk, and the run ends as an undisturbed one",
              arguments: [false, true])
        func saverKilledBetweenChunks(encrypted: Bool) async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run(encrypted: encrypted) { p in
                try await p.startAPI()
                try p.start(.transformer)
                let killed = try p.start(.saver, as: "saver-killed", environment: ["SAVER_TEST_PAUSE_AFTER": "chunk"])
                let extractor = try await p.extractOnce()
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                let id = try await p.onlyRun()
                #expect(try await eventually(within: .seconds(120)) { !killed.lines(containing: "test hook: pausing after chunk").isEmpty },
                        "\(killed.tail())")
                await killed.crash()

                // Chunk 0 is durable everywhere; nothing of chunk 1 is in the database.
                let atKill = try #require(try await p.record(id))
                #expect(atKill.chunks.saved.keys.sorted() == [0])
                #expect(try await p.rowCount("raw_users") == Pipeline.chunkUsers)
                #expect(!p.uploadedNames().contains { $0.hasSuffix("_manifest.json") }, "\(p.uploadedNames())")

                let restarted = try p.start(.saver, as: "saver-restarted")
                try await p.waitFor(id, [.completed, .failed])
                #expect(restarted.lines(containing: "run saved").count == 1, "\(restarted.tail())")
                if encrypted {
                    #expect(!restarted.lines(containing: "written again from their first byte, with fresh file keys").isEmpty, "\(restarted.tail())")
                }
                try await p.expectSameEnd(as: reference)
            }
        }
    }
}
