import Foundation
import GRDB
import PipelineCore
import PipelineRedis
import SaverCore
import Synchronization
import Testing
import TestSupport

extension SaverServerTests {
    @Suite("Saver: chunk by chunk") struct Chunks {
        /// The rows of the three tables a run fills, without the columns that hold the save's time.
        static func rows(_ h: SaverHarness) throws -> [String: [String]] {
            let db = try DatabaseSnapshot(path: h.databasePath)
            var tables: [String: [String]] = [:]
            for table in ["raw_users", "users", "dlq_records"] {
                tables[table] = try db.dump(table, excluding: ["inserted_at", "updated_at"])
            }
            return tables
        }

        /// Bytes of each data file in place on the server, by name.
        static func remote(_ h: SaverHarness, _ run: StagedRunFixture) throws -> [String: Data] {
            var files: [String: Data] = [:]
            for (name, _) in run.expectedRemote {
                files[name] = try Data(contentsOf: URL(fileURLWithPath: h.remoteOnDisk + "/" + name))
            }
            return files
        }

        /// Bytes appended or uploaded per remote path, counted from the upload progress reports.
        final class Sent: Sendable {
            let bytes = Mutex<[String: Int64]>([:])

            var hooks: SaverHooks {
                SaverHooks(uploadProgress: { path, progress in
                    guard let total = progress.totalBytes, progress.bytesTransferred == total else { return }
                    self.bytes.withLock { $0[path, default: 0] += total }
                })
            }

            func to(_ path: String) -> Int64 { bytes.withLock { $0[path] ?? 0 } }
        }

        @Test("a run saved in 3 chunks ends with the same rows and byte-identical remote files as the same rows in one chunk")
        func threeChunksEqualOne() async throws {
            let id = RunID.test()
            func save(chunkUsers: Int?) async throws -> (rows: [String: [String]], remote: [String: Data], run: [String: Int?]) {
                let h = try await SaverHarness()
                let run = try await h.stage(id, rows: 250, chunkUsers: chunkUsers)
                #expect(run.chunks.count == (chunkUsers == nil ? 1 : 3))
                let saver = try await h.saver()
                let record = try await h.running(saver) { try await h.waitForLedger(id, .completed) }
                try #require(record?.status == .completed, "\(record?.error ?? "-")")
                try await h.expectRemoteFiles(run)
                let row = try #require(try DatabaseSnapshot(path: h.databasePath).run(id))
                let counts = ["extracted", "valid", "invalid", "loaded", "unknown_department"].reduce(into: [String: Int?]()) {
                    $0[$1] = row[$1] as Int?
                }
                #expect(record?.counts[.save] == ["raw": 250, "loaded": run.valid, "dlq": run.invalid])
                return (try Self.rows(h), try Self.remote(h, run), counts)
            }
            let one = try await save(chunkUsers: nil)
            let three = try await save(chunkUsers: 100)
            #expect(three.rows["raw_users"]?.count == 250)
            #expect(three.rows == one.rows, "raw rows numbered run-wide, users and DLQ rows as in one chunk")
            #expect(three.remote == one.remote)
            #expect(three.run == one.run)
        }

        /// Saves chunk 0 of `run` with a saver that then pauses (``SaveStep/chunk``), and stops it there.
        static func stopAfterFirstChunk(_ h: SaverHarness, _ run: StagedRunFixture) async throws {
            let paused = try await h.saver(hooks: SaverHooks(pauseAfter: .chunk))
            try await h.running(paused) {
                let saved = try await eventually(within: .seconds(30)) { try await h.ledger.run(run.id)?.chunks.saved[0] != nil }
                try #require(saved, "chunk 0 was never recorded saved")
                try await Task.sleep(for: .milliseconds(300))
                let record = try #require(try await h.ledger.run(run.id))
                #expect(record.chunks.saved.keys.sorted() == [0], "paused before chunk 1's transactions")
                let db = try DatabaseSnapshot(path: h.databasePath)
                #expect(try db.count("raw_users", run: run.id) == run.chunks[0].sealed.rows)
                #expect(try db.count("dlq_records", run: run.id) == run.chunks[0].transformed.files[1].rows)
                let saved0 = try #require(record.chunks.saved[0])
                #expect(saved0.remoteBytes == ["raw": run.chunks[0].transformed.files[2].bytes, "users": run.chunks[0].transformed.files[0].bytes,
                                               "dlq": run.chunks[0].transformed.files[1].bytes])
            }
        }

        /// The bytes of `file` in chunks `from...`.
        static func bytes(_ run: StagedRunFixture, _ file: RemoteFile, from first: Int = 0) -> Int64 {
            let position = ["raw": 2, "users": 0, "dlq": 1][file.rawValue]!
            return run.chunks[first...].reduce(0) { $0 + Int64($1.transformed.files[position].bytes) }
        }

        @Test("a saver stopped after chunk 0 is recorded resumes at chunk 1 without sending chunk 0 again")
        func resumesAtTheNextChunk() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 300, chunkUsers: 100)
            try await Self.stopAfterFirstChunk(h, run)

            let sent = Sent()
            let saver = try await h.saver(hooks: sent.hooks)
            let record = try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }
            #expect(record?.status == .completed, "\(record?.error ?? "-")")
            try await h.expectRemoteFiles(run)
            for file in RemoteFile.allCases {
                let part = h.remoteDirectory + "/" + file.name(run.id) + ".part"
                #expect(sent.to(part) == Self.bytes(run, file, from: 1), "\(file): only chunks 1 and 2 were sent")
            }
            let db = try DatabaseSnapshot(path: h.databasePath)
            #expect(try db.count("raw_users", run: run.id) == 300)
            #expect(try db.count("users") == run.valid)
            #expect(try db.count("dlq_records", run: run.id) == run.invalid)
        }

        @Test("a remote .part longer than the ledger recorded is cut back, and the files end byte-identical")
        func longerPartIsCutBack() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 300, chunkUsers: 100)
            try await Self.stopAfterFirstChunk(h, run)
            // An append interrupted after the ledger's record: bytes the record does not cover.
            for file in RemoteFile.allCases {
                let handle = try #require(FileHandle(forWritingAtPath: h.remoteOnDisk + "/" + file.name(run.id) + ".part"))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data("{\"half a line".utf8))
                try handle.close()
            }

            let sent = Sent()
            let saver = try await h.saver(hooks: sent.hooks)
            let record = try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }
            #expect(record?.status == .completed, "\(record?.error ?? "-")")
            try await h.expectRemoteFiles(run)
            #expect(sent.to(h.remoteDirectory + "/" + RemoteFile.users.name(run.id) + ".part") == Self.bytes(run, .users, from: 1))
        }

        @Test("the server losing a .part mid-run: the file is written again from the first chunk and ends correct")
        func lostPartIsWrittenAgain() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 300, chunkUsers: 100)
            let part = RemoteFile.users.name(run.id) + ".part"
            let appends = Mutex(0)
            let sent = Sent()
            let onDisk = h.remoteOnDisk + "/" + part
            let hooks = SaverHooks(uploadProgress: { path, progress in
                sent.hooks.uploadProgress?(path, progress)
                guard path.hasSuffix(part), progress.bytesTransferred == progress.totalBytes else { return }
                // Chunk 1's users bytes are written: the server loses the file.
                if appends.withLock({ $0 += 1; return $0 }) == 2 { try? FileManager.default.removeItem(atPath: onDisk) }
            })
            let saver = try await h.saver(hooks: hooks)
            let record = try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }
            #expect(record?.status == .completed, "\(record?.error ?? "-")")
            #expect(appends.withLock { $0 } == 5, "chunks 0, 1, then 0, 1, 2 again")
            try await h.expectRemoteFiles(run)
            #expect(sent.to(h.remoteDirectory + "/" + part) == Self.bytes(run, .users) + Self.bytes(run, .users) - Self.bytes(run, .users, from: 2))
        }

        @Test("chunks saved before the transform phase completes leave the run unfinished; it finishes when the last chunk arrives")
        func unfinishedUntilTheLastChunk() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 300, chunkUsers: 100, transformedChunks: 2)
            let saver = try await h.saver()
            try await h.running(saver) {
                let saved = try await eventually(within: .seconds(30)) { try await h.ledger.run(run.id)?.chunks.saved.count == 2 }
                try #require(saved, "chunks 0 and 1 were never recorded saved")
                try await Task.sleep(for: .seconds(1))  // three reconcile intervals
                let record = try #require(try await h.ledger.run(run.id))
                #expect(record.status != .completed)
                #expect(record.phaseFinishedAt[.save] == nil)
                let names = RemoteFile.allCases.map { $0.name(run.id) + ".part" }.sorted()
                #expect(filesOnDisk(h.remoteOnDisk) == names, "only the growing .part files: no rename, no manifest")
                let db = try DatabaseSnapshot(path: h.databasePath)
                #expect(try db.count("raw_users", run: run.id) == 200)
                #expect(try db.run(run.id)?["status"] as String? != "completed")

                try await run.transform(chunks: 2..<3, ledger: h.ledger)
                let done = try await h.waitForLedger(run.id, .completed)
                #expect(done?.status == .completed, "\(done?.error ?? "-")")
                #expect(try await eventually(within: .seconds(30)) { try db.run(run.id)?["status"] as String? == "completed" })
                #expect(try db.count("raw_users", run: run.id) == 300)
                #expect(try db.count("dlq_records", run: run.id) == run.invalid)
            }
            try await h.expectRemoteFiles(run)
        }
    }
}
