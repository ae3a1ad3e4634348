import EndToEndSupport
import Foundation
import PipelineCore
import PipelineRedis
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `--kill`: SIGKILLs one stage's process mid-run (the first transformer replica with several)
/// and restarts it at once as it was started (``Role``), then watches the claims the dead process
/// held until the restarted one owns them.
///
/// The kill point is read from the ledger at every poll: once the stage's phase has `after` chunk
/// records (`chunk:<nnnnnn>:<phase>`), plus `delayMs`; by default half the run's chunks; `@0` as
/// soon as the phase has begun. Right after the kill, the claims (`etl:lock:*`) owned by the
/// stage's INSTANCE_ID are the dead process's; each is then polled until another life of that
/// INSTANCE_ID owns it (taken over) or it is gone (released between two polls, or expired).
final class Killer {
    private let kill: Kill, users: Int
    private var run: RunID?, total: Int?, after: Int?, reached: ContinuousClock.Instant?
    private var restart: (at: ContinuousClock.Instant, wall: Date, instance: String, dead: String, restarted: String)?
    private var claims: [String: [String: Any]] = [:]
    private var watching = false
    private var result: [String: Any]

    init(_ kill: Kill, users: Int) {
        (self.kill, self.users, after) = (kill, users, kill.after)
        result = ["kill": kill.spec, "stage": kill.stage.rawValue.lowercased()]
    }

    func poll(_ p: Pipeline, _ roles: inout [Role], peaks: inout Peaks, t0: ContinuousClock.Instant) async throws {
        if watching { return try await watch(p) }
        guard restart == nil else { return }
        if run == nil { run = try await p.runIDs().last }
        guard let run else { return }
        let phase = kill.phase.name
        if reached == nil {
            let fields = try await hkeys(p, run)
            if total == nil, fields.contains("chunk_users"), let size = try await p.redis.hget(LedgerKey.run(run), field: "chunk_users").flatMap({ Int($0) }) {
                total = (users + size - 1) / size
            }
            guard let after = after ?? total.map({ $0 / 2 }) else { return }
            self.after = after
            let done = Self.chunksDone(fields, phase)
            if fields.contains("\(phase)_finished_at") {
                throw ChildProcessError("--kill \(kill.spec): the \(phase) phase finished (\(done) chunks) before the kill point; choose a smaller @N")
            }
            guard after > 0 ? done >= after : fields.contains("\(phase)_started_at") else { return }
            reached = .now
        }
        guard ContinuousClock.now - reached! >= .milliseconds(kill.delayMs) else { return }

        let index = roles.firstIndex { $0.stage == kill.stage }!
        let dead = roles[index].process!
        peaks.sample([dead])
        let killedAt = ContinuousClock.now
        dead.signal(SIGKILL)
        _ = await dead.waitForExit(timeout: .seconds(10))
        guard dead.terminationReason == .uncaughtSignal else {
            throw ChildProcessError("--kill \(kill.spec): \(dead.name) had exited (\(dead.exitStatus ?? -1)) before the kill")
        }
        // The dead process's claims: the only process with this identity is gone.
        let instance = roles[index].instance
        let keys = try await strings(p, ["KEYS", "etl:lock:*"]).sorted()
        let owners: [String?] = if keys.isEmpty { [] } else { try await p.redis.send(["MGET"] + keys).array?.map(\.string) ?? [] }
        let held = zip(keys, owners).filter { $0.1?.hasPrefix(instance + ":") == true }
        let restartedAt = ContinuousClock.now
        try roles[index].start(as: dead.name + "-restarted")
        restart = (restartedAt, Date(), instance, dead.name, dead.name + "-restarted")
        let fields = try await hkeys(p, run)
        for (key, owner) in held {
            let ttl = try await p.redis.pttl(key)
            claims[key] = ["owner_at_kill": owner!, "ttl_left_ms": ttl]
            // A chunk claim whose chunk the ledger already records (killed between recording it
            // and releasing the claim): no later life needs it; it just expires.
            let parts = key.split(separator: ":")  // etl, lock, <phase>, <run>[, <nnnnnn>]
            if parts.count == 5, fields.contains("chunk:\(parts[4]):\(parts[2])") { claims[key]!["needed"] = false }
        }
        result.merge([
            "run_id": run.rawValue, "after_chunks": after!, "delay_ms": kill.delayMs, "chunks_total": orNull(total),
            "chunks_done_at_kill": Self.chunksDone(fields, phase), "killed_at_s": rounded((killedAt - t0).seconds, 3),
            "kill_to_restart_ms": rounded((restartedAt - killedAt).seconds * 1000, 1),
            "killed_pid": dead.pid, "restarted_pid": roles[index].process!.pid, "instance_id": instance,
        ]) { $1 }
        watching = true
    }

    private func watch(_ p: Pipeline) async throws {
        guard let restart else { return }
        let pending = claims.filter { $0.value["taken_over_s"] == nil && $0.value["gone_s"] == nil }.keys.sorted()
        let since = rounded((ContinuousClock.now - restart.at).seconds, 3)
        if !pending.isEmpty {
            let owners = try await p.redis.send(["MGET"] + pending).array?.map(\.string) ?? []
            for (key, owner) in zip(pending, owners) {
                if owner == nil {
                    claims[key]!["gone_s"] = since
                } else if owner != claims[key]!["owner_at_kill"] as? String, owner!.hasPrefix(restart.instance + ":") {
                    claims[key]!["taken_over_s"] = since
                    claims[key]!["owner_after"] = owner!
                }
            }
        }
        if pending.isEmpty || since > 60 { watching = false }
    }

    /// After the run: the figures (`recovery` in the JSON line).
    func finish(_ p: Pipeline, restartToCompleted completed: ContinuousClock.Instant, restartToManifest manifest: ContinuousClock.Instant) async throws -> [String: Any] {
        guard let restart else { throw ChildProcessError("--kill \(kill.spec): the run completed before the kill point") }
        try await watch(p)
        result["restart_to_completed_s"] = rounded((completed - restart.at).seconds, 3)
        result["restart_to_manifest_s"] = rounded((manifest - restart.at).seconds, 3)
        result["claims_at_kill"] = claims
        // Taken over at once: every claim the dead process held was owned by the restarted one
        // before it could have expired, and the restarted one's log never waited for a claim.
        let events = Timeline.events(p.logsDirectory + "/\(restart.restarted).log")
        let message = { (event: Timeline.Event) in event.words.joined(separator: " ") }
        let waited = events.map(message).filter { $0.contains("waiting for the claim") || $0.contains("holds this run") }
        result["log_waited_for_claim"] = waited
        result["log_resumed"] = events.filter { $0.words.first == "resuming" }.map(message)
        let word = kill.phase.word
        let chunks = { (name: String) in Set(Timeline.events(p.logsDirectory + "/\(name).log").compactMap { $0.finished(word) }) }
        let restartedChunks = chunks(restart.restarted)
        let first = events.filter { $0.finished(word) != nil }.map(\.at).min()
        result["first_chunk_after_restart_s"] = orNull(first.map { rounded($0 - restart.wall.timeIntervalSince1970, 3) })
        result["chunks_by_restarted"] = restartedChunks.count
        result["chunks_redone"] = chunks(restart.dead).intersection(restartedChunks).sorted()
        // A claim gone before its TTL ran out was deleted by its owner (only the owner may): the
        // restarted process took it over and finished between two polls.
        let needed = claims.values.filter { $0["needed"] as? Bool != false }
        let taken = needed.filter { c in
            (c["taken_over_s"] as? Double ?? c["gone_s"] as? Double).map { $0 * 1000 < Double(c["ttl_left_ms"] as? Int ?? 0) } ?? false
        }
        result["took_over"] = claims.isEmpty ? "no claim held at the kill"
            : needed.isEmpty ? "no claim needed (held only for chunks recorded before the kill)"
            : taken.count == needed.count && waited.isEmpty ? "at once" : "no"
        return result
    }

    private static func chunksDone(_ fields: [String], _ phase: String) -> Int {
        fields.filter { $0.hasPrefix("chunk:") && $0.hasSuffix(":" + phase) }.count
    }

    private func hkeys(_ p: Pipeline, _ run: RunID) async throws -> [String] {
        try await strings(p, ["HKEYS", LedgerKey.run(run)])
    }

    private func strings(_ p: Pipeline, _ command: [String]) async throws -> [String] {
        try await p.redis.send(command).array?.compactMap(\.string) ?? []
    }
}
