import EndToEndSupport
import Foundation
import PipelineCore
import PipelineRedis
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The whole-pipeline benchmark: scripts/bench-pipeline.sh documents its options (passed as
/// `BENCH_*` variables) and docs/BENCHMARKS.md its figures. Runs only when `BENCH_PIPELINE`
/// names the file for the JSON lines, one per run; the table and the timeline go to stderr.
@Suite(.enabled(if: BenchOptions.current != nil, "BENCH_PIPELINE unset: scripts/bench-pipeline.sh runs it"))
struct PipelineBenchmark {
    @Test func wholePipeline() async throws {
        let options = try #require(BenchOptions.current)
        say("\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(String(format: "%.2f", loadAverage())), binaries \(Pipeline.binDirectory)")
        var outcomes: [Outcome] = []
        func report(_ outcome: Outcome) throws {
            outcomes.append(outcome)
            try appendLine(outcome.json, to: options.output)
            say(Table.header + "\n" + outcome.row + (outcome.recoveryRow.map { "\n" + Table.recoveryHeader + "\n" + $0 } ?? ""))
            say(Timeline.text(outcome.timeline, endMs: Int((outcome.endToEnd * 1000).rounded())))
            if let path = options.timeline { try Timeline.writeCSV(outcomes, to: path) }
        }
        for users in options.users {
            // --kill: first an undisturbed run (run 0), whose outputs every killed run must equal.
            var reference: Outcome?
            if !options.kills.isEmpty {
                say("\(users) users, the undisturbed run the killed runs are compared with")
                reference = try await Self.measure(options, users: users, index: 0)
                try report(reference!)
            }
            for kill in options.kills.isEmpty ? [nil] : options.kills.map(Optional.some) {
                for k in 1...options.repeats {
                    say("\(users) users, run \(k)/\(options.repeats)" + (kill.map { ", kill \($0.spec)" } ?? ""))
                    try report(try await Self.measure(options, users: users, index: k, kill: kill, reference: reference))
                }
            }
        }
        say(Table.summary(outcomes, options: options))
    }

    /// One run in a fresh `Pipeline`: the downstream stages, then `Extractor --once`, until the
    /// manifest is on the SFTP server and the ledger says `completed`.
    static func measure(_ options: BenchOptions, users: Int, index: Int, kill: Kill? = nil, reference: Outcome? = nil) async throws -> Outcome {
        let timings = options.stageEnvironment.merging(options.chunkUsers.map { ["CHUNK_USERS": String($0)] } ?? [:]) { $1 }
        return try await Pipeline.run(users: users, encrypted: options.encrypt, timings: timings, perf: options.perf) { p in
            var roles = [Role(p, .saver, "Saver", instance: "saver-1")]
            try await p.startAPI(as: "API")
            roles += (1...options.transformers).map { k in
                Role(p, .transformer, options.transformers == 1 ? "Transformer" : "Transformer-\(k)", instance: "transformer-\(k)")
            }
            for i in roles.indices { try roles[i].start() }
            // Signals are the hand-off: extract only once the downstream stages listen.
            guard try await eventually(within: .seconds(60), {
                let (transformers, savers) = (try await subscribers(p, .phase1Complete), try await subscribers(p, .phase2Complete))
                return transformers >= options.transformers && savers >= 1
            }) else { throw ChildProcessError("the transformers and the saver did not subscribe within 60 s") }

            // Earlier writes are flushed first, so the run pays for no one else's writeback.
            sync()
            let loadBefore = loadAverage()
            let t0 = ContinuousClock.now
            let wall0 = Date()
            roles.append(Role(p, .extractor, "Extractor", ["--once"], instance: "extractor-1"))
            try roles[roles.count - 1].start()
            var peaks = Peaks()
            let killer = kill.map { Killer($0, users: users) }

            // The end-to-end clock: the upload folder every 5 ms; processes and ledger every 0.5 s.
            var manifest: String?
            var polls = 0
            while true {
                manifest = p.uploadedNames().first { $0.hasSuffix("_manifest.json") }
                if manifest != nil { break }
                polls += 1
                if polls % 10 == 0 { peaks.sample(p.children) }
                if polls % 100 == 0 { try await checkNoFailure(p, roles) }
                guard ContinuousClock.now - t0 < .seconds(options.timeout) else {
                    throw ChildProcessError("no manifest after \(options.timeout) s")
                }
                try await killer?.poll(p, &roles, peaks: &peaks, t0: t0)
                try await Task.sleep(for: .milliseconds(5))
            }
            let tEnd = ContinuousClock.now
            let runID = try #require(RunID(parsing: String(manifest!.dropLast("_manifest.json".count))))
            while try await p.record(runID)?.status != .completed {
                guard ContinuousClock.now - tEnd < .seconds(30) else { throw ChildProcessError("run \(runID): no `completed` within 30 s") }
                try await Task.sleep(for: .milliseconds(5))
            }
            let tCompleted = ContinuousClock.now
            let extractor = roles.last(where: { $0.stage == .extractor })!.process!
            while extractor.isRunning, ContinuousClock.now - tCompleted < .seconds(60) {
                peaks.sample(p.children)
                try await Task.sleep(for: .milliseconds(20))
            }
            let loadAfter = loadAverage()
            let record = try await p.redis.hgetall(LedgerKey.run(runID))
            let api = try await p.getJSON(p.apiURL + "/etl_runs/\(runID)") as? [String: Any]
            // The outcome as FinalState reads it (the API must run): the killed run's against the
            // undisturbed one's, and every encrypted file decrypted and checked.
            let state: FinalState? = if options.encrypt || !options.kills.isEmpty { try await FinalState.capture(p) } else { nil }
            if options.encrypt, let problems = state?.problems, !problems.isEmpty {
                throw ChildProcessError("the encrypted run's files do not check:\n\(problems.joined(separator: "\n"))")
            }

            // Every process but the fixture stops (the floor's curl still needs it).
            for process in p.children.reversed() where process.name != "dummyjson" && process.isRunning {
                peaks.sample([process])
                await process.stop(grace: .seconds(15))
            }
            let databaseBytes = [p.databasePath, p.databasePath + "-wal"].reduce(0) { $0 + fileSize($1) }
            let floor: [String: Any]? = if options.floor { try await p.floor(run: runID.rawValue, users: users, timeout: options.timeout) } else { nil }

            var json: [String: Any] = [
                "users": users, "run": index, "transformers": options.transformers, "chunk_users": orNull(options.chunkUsers),
                "kill": orNull(kill?.spec), "undisturbed_reference": index == 0, "encrypted": options.encrypt,
                "run_id": runID.rawValue, "status": record["status"] ?? "", "api_status": orNull(api?["status"]),
                "floor": orNull(floor), "bin": Pipeline.binDirectory, "nproc": ProcessInfo.processInfo.activeProcessorCount,
                "at": ISO8601DateFormatter().string(from: wall0),
                "load_avg_1m": [rounded(loadBefore, 2), rounded(loadAfter, 2)],
            ]
            if options.encrypt {  // checked by FinalState above; the sizes from the manifest
                let files = (parse(try String(contentsOfFile: p.uploadDirectory + "/" + manifest!, encoding: .utf8)) as? [String: Any])?["files"]
                json["decrypted"] = Dictionary(uniqueKeysWithValues: (files as? [[String: Any]] ?? []).map { file -> (String, Any) in
                    (file["name"] as? String ?? "?", ["plaintext_bytes": file["bytes"] ?? 0, "ciphertext_bytes": (file["ciphertext"] as? [String: Any])?["bytes"] ?? 0])
                })
            }
            var outcome = Outcome(users: users, run: index, kill: kill?.spec, state: state,
                                  endToEnd: rounded((tEnd - t0).seconds, 3), timeline: Timeline.chunks(logs: p.logsDirectory, run: runID.rawValue, wall0: wall0))
            var stages: [String: Any] = [:]
            for phase in Outcome.phases {
                let seconds = try ledgerTime(record, "\(phase)_finished_at") - ledgerTime(record, "\(phase)_started_at")
                outcome.phaseSeconds[phase] = rounded(seconds, 3)
                stages[phase] = ["seconds": rounded(seconds, 3), "users_per_s": Int(Double(users) / max(seconds, 1e-3))]
            }
            let handoffs = try [
                "start_to_extract": ledgerTime(record, "extract_started_at") - wall0.timeIntervalSince1970,
                "extract_to_transform": ledgerTime(record, "transform_started_at") - ledgerTime(record, "extract_finished_at"),
                "transform_to_save": ledgerTime(record, "save_started_at") - ledgerTime(record, "transform_finished_at"),
            ].mapValues { rounded($0, 3) }
            let staged = fileBytes(record["extract_files"]).merging(fileBytes(record["transform_files"])) { $1 }
            let uploaded = fileBytes(record["save_files"])
            outcome.rss = peaks.rssMiB
            let bytes = ["staged": staged.values.reduce(0, +), "uploaded": uploaded.values.reduce(0, +), "database": databaseBytes]
            var bytesJSON: [String: Any] = bytes
            (bytesJSON["staged_files"], bytesJSON["uploaded_files"]) = (staged, uploaded)
            json.merge([
                "end_to_end_s": rounded(outcome.endToEnd, 3), "users_per_s": Int(Double(users) / outcome.endToEnd),
                "stages": stages, "handoff_s": handoffs, "peak_rss_mib": peaks.rssMiB, "cpu_s": peaks.cpuSeconds,
                "bytes": bytesJSON,
                "counts": Dictionary(uniqueKeysWithValues: Outcome.phases.map { ($0, parse(record["\($0)_counts"]) ?? [String: Any]()) }),
                "timeline": outcome.timeline.map(\.json),
            ]) { $1 }
            outcome.row = Table.row(outcome, handoffs: handoffs, bytes: bytes, load: (loadBefore, loadAfter), floor: floor)
            if let killer, let reference {
                var recovery = try await killer.finish(p, restartToCompleted: tCompleted, restartToManifest: tEnd)
                recovery["undisturbed_end_to_end_s"] = rounded(reference.endToEnd, 3)
                recovery["compared_with"] = reference.json["run_id"]
                recovery["outputs_different"] = state.map { $0.differences(from: reference.state!) } ?? ["not captured"]
                recovery["outputs_identical"] = (recovery["outputs_different"] as? [String])?.isEmpty ?? false
                say("outputs of the run killed (\(kill!.spec)) against the undisturbed run: "
                    + ((recovery["outputs_different"] as? [String]).map { $0.isEmpty ? "identical" : "DIFFERENT: \($0)" } ?? "?"))
                outcome.restartToCompleted = recovery["restart_to_completed_s"] as? Double
                outcome.recoveryRow = Table.recoveryRow(outcome, recovery)
                json["recovery"] = recovery
            }
            outcome.json = json
            if let keep = options.keep { try p.keep(in: keep + "/\(users)-\(index)", record: record) }
            return outcome
        }
    }

    static func subscribers(_ p: Pipeline, _ channel: Channel) async throws -> Int {
        try await p.redis.send("PUBSUB", "NUMSUB", channel.rawValue).array?.last?.int ?? 0
    }

    /// A failed run never gets a manifest: stop waiting at once.
    static func checkNoFailure(_ p: Pipeline, _ roles: [Role]) async throws {
        if let id = try await p.runIDs().last, let record = try await p.record(id), record.status == .failed {
            let error = try await p.redis.hget(LedgerKey.run(id), field: "error")
            throw ChildProcessError("run \(id) failed: \(error ?? "?")")
        }
        for role in roles {
            guard let process = role.process, !process.isRunning, role.stage != .extractor || process.exitStatus != 0 else { continue }
            throw ChildProcessError("\(process.name) exited with \(process.exitStatus ?? -1) during the run:\n\(process.tail())")
        }
        if let fixture = p.children.first(where: { $0.name == "dummyjson" }), !fixture.isRunning {
            throw ChildProcessError("the fixture exited during the run")
        }
    }
}

/// A stage process of the run, started as it would be again after a kill: the same executable,
/// arguments, INSTANCE_ID and environment.
struct Role {
    let pipeline: Pipeline, stage: Pipeline.Stage, name: String, arguments: [String], instance: String
    private(set) var process: ChildProcess?

    init(_ pipeline: Pipeline, _ stage: Pipeline.Stage, _ name: String, _ arguments: [String] = [], instance: String) {
        (self.pipeline, self.stage, self.name, self.arguments, self.instance) = (pipeline, stage, name, arguments, instance)
    }

    mutating func start(as name: String? = nil) throws {
        process = try pipeline.start(stage, as: name ?? self.name, arguments, environment: ["INSTANCE_ID": instance])
    }
}
