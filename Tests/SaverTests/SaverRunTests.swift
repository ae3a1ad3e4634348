import Foundation
import GRDB
import PipelineCore
import PipelineRedis
import SaverCore
import Testing
import TestSupport

extension SaverServerTests {
    @Suite("Saver: runs") struct Runs {
        @Test("after a run every table holds the staged rows, and the server byte-identical files and a matching manifest")
        func completedRun() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 120)
            let subscriber = RedisSubscriber(url: SaverHarness.redisURL, channels: [Channel.phase3Complete.rawValue])
            defer { subscriber.close() }
            var signals = subscriber.events.makeAsyncIterator()
            #expect(try await signals.next() == .subscribed)

            let saver = try await h.saver()
            let record = try #require(try await h.running(saver) { try await h.waitForLedger(run.id, .completed) })
            #expect(record.status == .completed, "error: \(record.error ?? "-")")

            // SQLite: every table matches the staged files.
            let db = try DatabaseSnapshot(path: h.databasePath)
            #expect(try db.count("raw_users", run: run.id) == run.total)
            #expect(try db.count("users") == run.valid)
            #expect(try db.count("users", run: run.id) == run.valid)
            #expect(try db.count("dlq_records", run: run.id) == run.invalid)
            #expect(try db.count("etl_runs") == 1)
            let row = try #require(try db.run(run.id))
            #expect(row["status"] as String == "completed")
            #expect(row["failed_phase"] as String? == nil)
            #expect(row["extracted"] as Int == run.total)
            #expect(row["valid"] as Int == run.valid)
            #expect(row["invalid"] as Int == run.invalid)
            #expect(row["loaded"] as Int == run.valid)
            #expect((row["unknown_department"] as Int) > 0)
            let remoteFiles = try JSONDecoder().decode([StagedFile].self, from: Data((row["remote_files"] as String).utf8))
            #expect(remoteFiles.map(\.path) == ["raw", "users", "dlq"].map { "\(h.remoteDirectory)/\(run.id)_\($0).jsonl" }
                + ["\(h.remoteDirectory)/\(run.id)_manifest.json"])
            let stagedFiles = try JSONDecoder().decode([StagedFile].self, from: Data((row["staged_files"] as String).utf8))
            #expect(Set(stagedFiles.map(\.sha256)) == Set([run.rawFile, run.maskedFile, run.usersFile, run.dlqFile].map(\.sha256)))
            let events = try db.events(run.id).map { "\($0["stage"] as String) \($0["event"] as String)" }
            #expect(events.starts(with: ["extract started", "extract completed", "transform started", "transform completed", "save started"]))
            #expect(events.contains("save users written"))
            #expect(events.last == "save completed")

            // data.db alone holds every committed row: the WAL was merged and emptied (in the
            // background, just after the run completed), and a copy without -wal/-shm counts them.
            saver.store.checkpointer.waitForIdle()
            let wal = try FileManager.default.attributesOfItem(atPath: h.databasePath + "-wal")[.size] as? Int
            #expect(wal == 0, "frames left in the WAL after the run was saved")
            let copy = TemporaryDirectory()
            try FileManager.default.copyItem(atPath: h.databasePath, toPath: copy.file("data.db"))
            let alone = try DatabaseQueue(path: copy.file("data.db"))
            let copied = try await alone.read { db in
                try ["integrity_check", "raw_users", "users", "dlq_records", "etl_runs"].map { name in
                    name == "integrity_check"
                        ? try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? ""
                        : String(try Int.fetchOne(db, sql: "SELECT count(*) FROM \(name)") ?? -1)
                }
            }
            #expect(copied == ["ok", "\(run.total)", "\(run.valid)", "\(run.invalid)", "1"])

            // Rows hold what the files say.
            let user = try #require(try db.user(1))
            #expect(user["full_name"] as String == "First1 Last1")
            #expect(user["department_code"] as String == "ENG")
            #expect(user["run_id"] as String == run.id.rawValue)
            #expect(user["inserted_at"] as String == user["updated_at"] as String)
            #expect((user["payload"] as String).contains("\"cardNumber\":\"************0001\""))
            // Each users.jsonl line is stored as it is, the transformer's masking included: the API
            // serves that text without writing it again (docs/API.md, "Payloads are served as stored").
            let userLines = Set(try String(contentsOfFile: run.usersFile.path, encoding: .utf8).split(separator: "\n").map(String.init))
            let payloads = try await db.pool.read { db in try String.fetchAll(db, sql: "SELECT payload FROM users") }
            #expect(payloads.count == run.valid)
            #expect(payloads.allSatisfy(userLines.contains))
            let notJSON = try db.pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM raw_users WHERE run_id = ? AND line = 3", arguments: [run.id.rawValue])
            }
            #expect(notJSON?["user_id"] as Int? == nil)
            #expect(notJSON?["payload"] as String? == "\"<html>upstream error 3</html>\"")
            let dlq = try db.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT line, reasons, payload FROM dlq_records WHERE run_id = ? ORDER BY line", arguments: [run.id.rawValue])
            }
            #expect(dlq.first?["payload"] as String? == "\"<html>upstream error 3</html>\"")
            #expect((dlq.last?["reasons"] as String?)?.contains("email_format") == true)

            // The server: exactly the four files, byte-identical to staging, no .part.
            let names = Saver.remoteNames(run.id)
            #expect(filesOnDisk(h.remoteOnDisk) == [names.dlq, names.manifest, names.raw, names.users].sorted())
            #expect(try await sha256sum(h.remoteOnDisk + "/" + names.raw) == sha256sum(run.maskedFile.path))
            #expect(try await sha256sum(h.remoteOnDisk + "/" + names.users) == sha256sum(run.usersFile.path))
            #expect(try await sha256sum(h.remoteOnDisk + "/" + names.dlq) == sha256sum(run.dlqFile.path))
            #expect(try await sha256sum(h.remoteOnDisk + "/" + names.manifest) == sha256sum(h.layout.runDirectory(run.id) + "/manifest.json"))

            // The manifest's checksums are those of the files next to it.
            let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: h.remoteOnDisk + "/" + names.manifest))) as! [String: Any]
            #expect(manifest["run_id"] as? String == run.id.rawValue)
            #expect(manifest["status"] as? String == "completed")
            #expect(manifest["extracted_at"] is String && manifest["transformed_at"] is String && manifest["started_at"] is String)
            let files = try #require(manifest["files"] as? [[String: Any]])
            #expect(files.map { $0["name"] as? String } == [names.raw, names.users, names.dlq])
            for file in files {
                let path = h.remoteOnDisk + "/" + (file["name"] as! String)
                #expect(file["sha256"] as? String == (try await sha256sum(path)))
                #expect(file["bytes"] as? Int == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
            }
            let counts = try #require(manifest["counts"] as? [String: Int])
            #expect(counts["raw"] == run.total && counts["loaded"] == run.valid && counts["dlq"] == run.invalid)

            // The ledger and the signal.
            #expect(record.counts[.save] == ["raw": run.total, "loaded": run.valid, "dlq": run.invalid])
            #expect(record.files[.save]?.map(\.sha256) == remoteFiles.map(\.sha256))
            // Pub/sub channels span Redis databases: skip signals other suites' runs may send.
            var signal: PhaseSignal?
            while signal == nil, case .message(let channel, let payload)? = try await signals.next() {
                #expect(channel == "channel:phase3_complete")
                if let decoded = try? PhaseSignal.decode(payload), decoded.runID == run.id { signal = decoded }
            }
            let received = try #require(signal, "no phase-3 signal for the run")
            #expect(received.phase == .save)
            #expect(received.status == .completed)
            #expect(received.files.count == 4)
            #expect(received.counts == ["raw": run.total, "loaded": run.valid, "dlq": run.invalid])
        }

        @Test("saving the same run twice leaves the same rows and the same remote files, without duplicates")
        func savingTwice() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 60)
            let saver = try await h.saver()
            _ = try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }
            let first = try DatabaseSnapshot(path: h.databasePath).contents()
            var attributes: [String] = []
            for name in filesOnDisk(h.remoteOnDisk) {
                let info = try FileManager.default.attributesOfItem(atPath: h.remoteOnDisk + "/" + name)
                attributes.append("\(name) \(info[.systemFileNumber]!) \(info[.modificationDate]!) \(try await sha256sum(h.remoteOnDisk + "/" + name))")
            }

            // Hand the run back to the saver, as if its completion had been lost: every chunk is
            // recorded saved, so only the finish is done again.
            try await h.handBack(run, forgetChunks: false)
            let again = try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }
            #expect(again?.status == .completed)

            let second = try DatabaseSnapshot(path: h.databasePath).contents()
            #expect(second == first)
            #expect(second["raw_users"]?.count == run.total)
            #expect(second["users"]?.count == run.valid)
            #expect(second["dlq_records"]?.count == run.invalid)
            #expect(second["etl_runs"]?.count == 1)
            var attributesAfter: [String] = []
            for name in filesOnDisk(h.remoteOnDisk) {
                let info = try FileManager.default.attributesOfItem(atPath: h.remoteOnDisk + "/" + name)
                attributesAfter.append("\(name) \(info[.systemFileNumber]!) \(info[.modificationDate]!) \(try await sha256sum(h.remoteOnDisk + "/" + name))")
            }
            #expect(attributesAfter.filter { !$0.contains("_manifest.json") } == attributes.filter { !$0.contains("_manifest.json") },
                    "the files already in place on the server were left alone, not uploaded again")
            #expect(attributesAfter.map { $0.split(separator: " ").last } == attributes.map { $0.split(separator: " ").last },
                    "the manifest was sent again with the same bytes")
        }

        @Test("a run saved again from scratch replaces a remote file of the same size but other bytes")
        func differentRemoteFileIsReplaced() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 40)
            let saver = try await h.saver()
            _ = try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }
            let remote = h.remoteOnDisk + "/" + Saver.remoteNames(run.id).users
            var bytes = try Data(contentsOf: URL(fileURLWithPath: remote))
            bytes[10] = bytes[10] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
            try bytes.write(to: URL(fileURLWithPath: remote))
            #expect(try await sha256sum(remote) != run.usersFile.sha256)

            try await h.handBack(run, forgetChunks: true)
            #expect(try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }?.status == .completed)
            #expect(try await sha256sum(remote) == run.usersFile.sha256)
            #expect(filesOnDisk(h.remoteOnDisk).count == 4)
        }

        @Test("users keep inserted_at, move updated_at only when record_hash changes, and a late older run never overwrites them")
        func userUpserts() async throws {
            let h = try await SaverHarness()
            let saver = try await h.saver()
            let older = RunID.test(secondsAgo: 300), middle = RunID.test(secondsAgo: 200)
            let newer = RunID.test(secondsAgo: 100), newest = RunID.test()
            try await h.running(saver) {
                func save(_ id: RunID, variant: String) async throws -> RunRecord {
                    _ = try await h.stage(id, rows: 20, variant: variant)
                    let record = try #require(try await h.waitForLedger(id, .completed))
                    try #require(record.status == .completed, "\(record.error ?? "-")")
                    return record
                }
                let db = try DatabaseSnapshot(path: h.databasePath)
                let first = try await save(middle, variant: "b")
                let before = try #require(try db.user(1))
                let middleSaved = Timestamp.format(try #require(first.phaseStartedAt[.save]))
                #expect(before["inserted_at"] as String == middleSaved)
                #expect(before["updated_at"] as String == middleSaved)

                // Same content in a newer run: nothing changes but the last run that saw it.
                _ = try await save(newer, variant: "b")
                let unchanged = try #require(try db.user(1))
                #expect(unchanged["run_id"] as String == middle.rawValue)
                #expect(unchanged["updated_at"] as String == middleSaved)
                #expect(unchanged["payload"] as String == before["payload"] as String)
                #expect(unchanged["last_seen_run_id"] as String == newer.rawValue)

                // An older run saved late, with other content: refused.
                _ = try await save(older, variant: "a")
                let kept = try #require(try db.user(1))
                #expect(kept["record_hash"] as String == before["record_hash"] as String)
                #expect(kept["run_id"] as String == middle.rawValue)
                #expect(kept["last_seen_run_id"] as String == newer.rawValue)
                #expect(try db.count("raw_users", run: older) == 20, "the older run's own rows are still stored")

                // Changed content in the newest run: new state and updated_at, same inserted_at.
                let last = try await save(newest, variant: "d")
                let changed = try #require(try db.user(1))
                #expect(changed["record_hash"] as String != before["record_hash"] as String)
                #expect(changed["run_id"] as String == newest.rawValue)
                #expect(changed["updated_at"] as String == Timestamp.format(try #require(last.phaseStartedAt[.save])))
                #expect(changed["inserted_at"] as String == middleSaved)
                #expect((changed["payload"] as String).contains("\"variant\":\"d\""))
                #expect(try db.count("users") == 17, "20 rows, of which lines 3, 10 and 20 are rejected")
            }
        }

        @Test("a staged file that differs from the ledger fails the run before its transaction commits")
        func corruptStaging() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 30)
            let handle = try #require(FileHandle(forWritingAtPath: h.layout.chunkFile(run.id, 0, .users)))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("{\"id\":999}\n".utf8))
            try handle.close()

            let saver = try await h.saver()
            let db = try await h.running(saver) { () async throws -> DatabaseSnapshot in
                let record = try #require(try await h.waitForLedger(run.id, .failed))
                #expect(record.failedPhase == .save)
                #expect(record.error?.contains("users.jsonl is not what the ledger recorded") == true, "\(record.error ?? "-")")
                let db = try DatabaseSnapshot(path: h.databasePath)
                #expect(try await eventually(within: .seconds(30)) { try db.run(run.id)?["status"] as String? == "failed" })
                return db
            }
            // The file is checked in the read that loads it: its transaction rolled back. The chunk's
            // raw rows, from a file that matched, may be in; nothing is in place on the server.
            #expect(try db.count("users") == 0)
            #expect(try db.count("dlq_records") == 0)
            #expect(try db.run(run.id)?["status"] as String? == "failed")
            #expect(filesOnDisk(h.remoteOnDisk).allSatisfy { $0.hasSuffix(".part") }, "\(filesOnDisk(h.remoteOnDisk))")
        }

        @Test("completed runs' staging beyond STAGING_KEEP_RUNS is deleted, newest kept; unfinished runs are left alone")
        func stagingIsPruned() async throws {
            let h = try await SaverHarness()
            let saver = try await h.saver(settings: h.settings(keepRuns: 2))
            let ids = (0..<4).map { RunID.test(secondsAgo: Double(400 - $0 * 100)) }
            let failed = RunID.test(secondsAgo: 500)
            try FileManager.default.createDirectory(atPath: h.layout.runDirectory(failed), withIntermediateDirectories: true)
            _ = try await h.ledger.startRun(failed)
            try await h.ledger.failPhase(.extract, run: failed, error: "upstream down")
            try await h.running(saver) {
                for id in ids {
                    _ = try await h.stage(id, rows: 10)
                    #expect(try await h.waitForLedger(id, .completed)?.status == .completed)
                }
                #expect(try await eventually(within: .seconds(30)) { try h.layout.stagedRuns() == [failed] + ids.suffix(2) },
                        "left: \((try? h.layout.stagedRuns()) ?? [])")
            }
        }
    }
}
