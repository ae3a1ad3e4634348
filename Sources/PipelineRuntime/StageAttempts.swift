import Foundation
import PipelineCore
import PipelineRedis

/// A run on which a stage process died ``maxConsecutiveDeaths`` times in a row, so the stage
/// fails it instead of trying a fourth time (docs/STAGING.md, "Attempts").
///
/// Each attempt at a phase of a run is counted in the run's hash (`<phase>_attempts`) once its
/// claim is won, and the count is cleared whenever the attempt ends in a way the stage handled:
/// the phase completed, failed with a reason, or stopped gracefully (shutdown, cancellation).
/// Only attempts that ended with the process (a crash, a trap, SIGKILL, the OOM killer) are
/// left counted, so the count is the number of deaths in a row.
public struct CrashLoop: Error, Sendable, Equatable, CustomStringConvertible {
    /// Deaths in a row after which a run is failed rather than attempted again.
    public static let maxConsecutiveDeaths = 3

    public var phase: Phase
    public var deaths: Int
    /// When the last of those attempts began, and the claim owner (host:pid:tag) that made it.
    public var lastStartedAt: String?
    public var lastOwner: String?

    public init(phase: Phase, deaths: Int, lastStartedAt: String?, lastOwner: String?) {
        self.phase = phase
        self.deaths = deaths
        self.lastStartedAt = lastStartedAt
        self.lastOwner = lastOwner
    }

    public var description: String {
        var last: [String] = []
        if let lastStartedAt { last.append("started at \(lastStartedAt)") }
        if let lastOwner { last.append("by \(lastOwner)") }
        let detail = last.isEmpty ? "" : " (last attempt \(last.joined(separator: " ")))"
        return "the \(phase.stageName) died \(deaths) times in a row on this run; not retried\(detail)"
    }
}

extension Phase {
    /// The stage that works on this phase: `extractor`, `transformer`, `saver`.
    public var stageName: String {
        switch self {
        case .extract: "extractor"
        case .transform: "transformer"
        case .save: "saver"
        }
    }
}

extension RunLedger {
    /// What ``beginAttempt(_:run:token:at:)`` found.
    public enum AttemptStart: Sendable, Equatable {
        /// The attempt is counted: `number` is 1 for the first after a handled end, 2 when the
        /// previous attempt died, and so on.
        case began(number: Int)
        /// The stage died ``CrashLoop/maxConsecutiveDeaths`` times in a row on this run: fail it.
        case refused(CrashLoop)
    }

    /// A token naming one attempt: the claim owner (host:pid:tag) and a random suffix, so a
    /// retried ``beginAttempt(_:run:token:at:)`` is recognised and not counted twice.
    public static func attemptToken(owner: String) -> String {
        "\(owner)/\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// Counts an attempt at `phase` of the run, unless the stage already died
    /// ``CrashLoop/maxConsecutiveDeaths`` times in a row on it. Call it only while holding the
    /// run's claim (so two replicas never both count), before any work.
    /// With `chunk`, the attempt is at that chunk alone: replicas working on other chunks of the
    /// run count theirs apart.
    public func beginAttempt(_ phase: Phase, run id: RunID, chunk: Int? = nil, token: String, at date: Date = Date()) async throws -> AttemptStart {
        let fields = Self.attemptFields(phase, chunk: chunk)
        let reply = try await call {
            try await redis.eval(Self.beginAttemptScript, keys: [LedgerKey.run(id)], args: [
                fields[0], fields[1], fields[2],
                String(CrashLoop.maxConsecutiveDeaths), Timestamp.format(date), token,
            ])
        }
        guard let values = reply.array, values.count == 4, case .integer(let count) = values[0], case .integer(let began) = values[3] else {
            throw redis.unexpected("EVAL", "expected {count, started, owner, counted}, got \(reply)")
        }
        if began == 1 { return .began(number: Int(count)) }
        func text(_ value: RedisReply) -> String? { value.string.flatMap { $0.isEmpty ? nil : $0 } }
        return .refused(CrashLoop(phase: phase, deaths: Int(count), lastStartedAt: text(values[1]), lastOwner: text(values[2])))
    }

    /// Clears the attempt count of `phase` when the attempt `token` ended in a handled way that
    /// records nothing else (a graceful stop, an error the stage survived). Does nothing when
    /// another attempt has been counted since (this one lost its claim).
    public func endAttempt(_ phase: Phase, run id: RunID, chunk: Int? = nil, token: String) async throws {
        let fields = Self.attemptFields(phase, chunk: chunk)
        _ = try await call {
            try await redis.eval(Self.endAttemptScript, keys: [LedgerKey.run(id)], args: [fields[2], token, fields[0], fields[1]])
        }
    }

    /// The count, started-at and owner fields of the attempts at a phase of the run, or at one chunk.
    static func attemptFields(_ phase: Phase, chunk: Int?) -> [String] {
        chunk.map { RunChunks.attemptFields($0, phase) } ?? RunRecord.Field.attemptFields(phase)
    }

    /// `KEYS[1]` the run's hash; `ARGV`: the count, started-at and owner fields, the limit, now,
    /// the token. Returns `{count, last started at, last owner, 1 if counted else 0}`. A token
    /// already recorded is this attempt retried: counted once. A missing hash is never created.
    static let beginAttemptScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return {0, '', '', 1} end
        local n = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') or 0
        local started = redis.call('HGET', KEYS[1], ARGV[2]) or ''
        local owner = redis.call('HGET', KEYS[1], ARGV[3]) or ''
        if owner == ARGV[6] then return {n, started, owner, 1} end
        if n >= tonumber(ARGV[4]) then return {n, started, owner, 0} end
        redis.call('HSET', KEYS[1], ARGV[1], n + 1, ARGV[2], ARGV[5], ARGV[3], ARGV[6])
        return {n + 1, ARGV[5], ARGV[6], 1}
        """

    /// `KEYS[1]` the run's hash; `ARGV[1]` the owner field, `ARGV[2]` the token, then the other
    /// fields to delete with it. Deletes only while the token is the recorded one.
    static let endAttemptScript = """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
            redis.call('HDEL', KEYS[1], ARGV[1], ARGV[3], ARGV[4])
            return 1
        end
        return 0
        """
}
