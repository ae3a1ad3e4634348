import Foundation
import PipelineCore
import PipelineRedis
import SaverCore
import Testing
import TestSupport

extension SaverServerTests {
    @Suite("Saver: every run in etl_runs") struct Recorder {
        @Test("a run failed in the extractor shows in etl_runs as failed, with phase extract and its error")
        func extractorFailure() async throws {
            let h = try await SaverHarness()
            let saver = try await h.saver(settings: h.settings(reconcile: .seconds(3600)))
            let message = "page at skip=200 failed: HTTP 503 from https://dummyjson.com/users after 4 attempts"
            let db = try await h.running(saver) { () async throws -> DatabaseSnapshot in
                // Let the recorder subscribe (pub/sub channels span databases, so another suite may
                // listen too) and do its start-up scan; the interval is an hour, so only the
                // signal can bring the row in quickly.
                #expect(try await eventually(within: .seconds(30)) { (try await h.redis.send("PUBSUB", "NUMSUB", Channel.runFailed.rawValue).array?.last?.int ?? 0) >= 1 })
                try await Task.sleep(for: .milliseconds(500))
                let id = RunID.test()
                _ = try await h.ledger.startRun(id)
                let signal = try await h.ledger.failPhase(.extract, run: id, error: message)
                _ = try await h.redis.publish(Channel.runFailed.rawValue, signal.json)

                let db = try DatabaseSnapshot(path: h.databasePath)
                #expect(try await eventually(within: .seconds(10)) { try db.run(id) != nil })
                let row = try #require(try db.run(id))
                #expect(row["status"] as String == "failed")
                #expect(row["failed_phase"] as String == "extract")
                #expect(row["error"] as String == message)
                #expect(row["started_at"] as String == Timestamp.format(id.startedAt))
                #expect(row["finished_at"] as String? != nil)
                let events = try db.events(id).map { "\($0["stage"] as String) \($0["event"] as String)" }
                #expect(events == ["extract started", "extract failed"])
                #expect(try db.events(id).last?["detail"] as String? == message)
                return db
            }
            #expect(try db.count("etl_runs") == 1)
        }

        @Test("runs that failed or moved on without a signal are recorded by the reconcile scan, and stale rows refreshed")
        func reconcileScan() async throws {
            let h = try await SaverHarness()
            let saver = try await h.saver()
            let recorder = saver.recorder()
            let transformFailed = RunID.test(secondsAgo: 30)
            _ = try await h.ledger.startRun(transformFailed)
            try await h.ledger.completePhase(.extract, run: transformFailed, files: [], counts: ["extracted": 7])
            try await h.ledger.beginPhase(.transform, run: transformFailed)
            try await h.ledger.failPhase(.transform, run: transformFailed, error: "raw.jsonl is missing")
            let resumed = RunID.test(secondsAgo: 20)
            _ = try await h.ledger.startRun(resumed)
            try await h.ledger.failPhase(.extract, run: resumed, error: "timeout")

            #expect(try await recorder.recordRuns() == 2)
            let db = try DatabaseSnapshot(path: h.databasePath)
            #expect(try db.run(transformFailed)?["failed_phase"] as String? == "transform")
            #expect(try db.run(transformFailed)?["extracted"] as Int? == 7)
            #expect(try db.run(resumed)?["status"] as String? == "failed")
            #expect(try await recorder.recordRuns() == 0, "rows that are up to date are not rewritten")

            // The extractor resumes the failed run: its row is stale and gets refreshed.
            try await Task.sleep(for: .milliseconds(5))
            try await h.ledger.beginPhase(.extract, run: resumed)
            #expect(try await recorder.recordRuns() == 1)
            let row = try #require(try db.run(resumed))
            #expect(row["status"] as String == "extracting")
            #expect(row["failed_phase"] as String? == nil)
            #expect(row["error"] as String? == nil)
        }

        @Test("a URL quoted in a run's error is stored and served without credentials or query values")
        func errorsAreRedacted() async throws {
            let h = try await SaverHarness()
            let recorder = try await h.saver().recorder()
            let message = "GET http://etl:s3cretPW9x@up.example/users?key=K3yValue77q&skip=0: body is not the expected users envelope"
            let redacted = "GET http://***@up.example/users?key=***&skip=***: body is not the expected users envelope"
            // Through the ledger's own write, and as an older ledger may already hold it.
            let viaLedger = RunID.test(secondsAgo: 20)
            _ = try await h.ledger.startRun(viaLedger)
            try await h.ledger.failPhase(.extract, run: viaLedger, error: message)
            #expect(try await h.ledger.run(viaLedger)?.error == redacted)
            let stored = RunID.test(secondsAgo: 10)
            _ = try await h.ledger.startRun(stored)
            try await h.ledger.failPhase(.transform, run: stored, error: "x")
            _ = try await h.redis.hset(LedgerKey.run(stored), [RunRecord.Field.error: message])

            #expect(try await recorder.recordRuns() == 2)
            let db = try DatabaseSnapshot(path: h.databasePath)
            for id in [viaLedger, stored] {
                #expect(try db.run(id)?["error"] as String? == redacted)
                #expect(try db.events(id).last?["detail"] as String? == redacted)
            }
        }

        @Test("pruning keeps the newest STAGING_KEEP_RUNS finished or abandoned runs, and every resumable or unfinished one")
        func pruningOfFailedAndAbandonedRuns() async throws {
            let h = try await SaverHarness()
            let recorder = try await h.saver(settings: h.settings(keepRuns: 2)).recorder()
            // Oldest first; each gets a staging directory with a file in it.
            let names = ["completed1", "failedTransform", "unknown", "completed2", "failedExtract", "extracting",
                         "transformed", "completed3", "failedSave"]
            var ids: [String: RunID] = [:]
            for (offset, name) in names.enumerated() {
                let id = RunID.test(secondsAgo: Double(1000 - offset * 10))
                ids[name] = id
                try FileManager.default.createDirectory(atPath: h.layout.runDirectory(id), withIntermediateDirectories: true)
                try "{}\n".write(toFile: h.layout.rawFile(id), atomically: false, encoding: .utf8)
                if name == "unknown" { continue }  // the ledger lost it (flushed, or another Redis)
                _ = try await h.ledger.startRun(id)
                switch name {
                case "failedTransform": try await h.ledger.failPhase(.transform, run: id, error: "bad")
                case "failedExtract": try await h.ledger.failPhase(.extract, run: id, error: "upstream down")
                case "failedSave": try await h.ledger.failPhase(.save, run: id, error: "host key")
                // The status follows the phases' times (the earliest unfinished phase): each
                // phase before the one that makes the status is completed first.
                case "transformed":
                    for phase in [Phase.extract, .transform] { try await h.ledger.completePhase(phase, run: id, files: [], counts: [:]) }
                case "extracting": break
                default:
                    for phase in Phase.allCases { try await h.ledger.completePhase(phase, run: id, files: [], counts: [:]) }
                }
            }
            let deleted = try await recorder.pruneStaging()
            #expect(Set(deleted) == Set(["completed1", "failedTransform", "unknown", "completed2"].map { ids[$0]! }))
            let kept = ["failedExtract", "extracting", "transformed", "completed3", "failedSave"].map { ids[$0]! }
            #expect(try h.layout.stagedRuns() == kept.sorted(), "left: \((try? h.layout.stagedRuns()) ?? [])")
            #expect(try await recorder.pruneStaging() == [], "a second pass finds nothing more to delete")
        }

        @Test("a run older than every stage's ledger scan is abandoned: its staging is pruned whatever its status")
        func runsBeyondTheScanAreAbandoned() async throws {
            let h = try await SaverHarness()
            let saver = try await h.saver()
            let recorder = RunRecorder(
                redis: h.redis, redisURL: SaverHarness.redisURL, store: saver.store, layout: h.layout, keepRuns: 1,
                interval: .seconds(3600), scanLimit: 3, logger: saver.logger)
            var ids: [RunID] = []
            for offset in 0..<5 {  // two old ones beyond the scan of 3, then three in it
                let id = RunID.test(secondsAgo: Double(100 - offset * 10))
                ids.append(id)
                try FileManager.default.createDirectory(atPath: h.layout.runDirectory(id), withIntermediateDirectories: true)
                _ = try await h.ledger.startRun(id)
                try await h.ledger.completePhase(.extract, run: id, files: [], counts: [:])
            }
            #expect(try await recorder.pruneStaging() == [ids[0]], "the newest abandoned one is kept (STAGING_KEEP_RUNS=1)")
            #expect(try h.layout.stagedRuns() == Array(ids[1...]))
        }

        @Test("a completed row is never turned back by the ledger mirror")
        func completedRowsStay() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 10)
            let saver = try await h.saver()
            _ = try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }
            // The ledger moves back (an operator re-queues the run): the row keeps `completed`.
            _ = try await h.redis.hset(LedgerKey.run(run.id), [RunRecord.Field.status: "transformed", RunRecord.Field.updatedAt: Timestamp.format(Date())])
            #expect(try await saver.recorder().recordRuns() == 0)
            #expect(try DatabaseSnapshot(path: h.databasePath).run(run.id)?["status"] as String? == "completed")
        }
    }
}
