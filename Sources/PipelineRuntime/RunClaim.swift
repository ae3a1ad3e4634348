import Foundation
import PipelineCore
import PipelineRedis

/// Thrown into the work of ``RunClaims/withClaim(_:run:_:)`` when its claim could not be renewed:
/// another replica may own the run now, so this one must stop touching it.
public struct ClaimLost: Error, CustomStringConvertible {
    public var key: String
    public var reason: String
    public var description: String { "lost the claim \(key): \(reason)" }
}

/// Claims on runs (`SET etl:lock:<phase>:<run_id> <owner> NX PX <ttl>`), so that two replicas of
/// a stage never work on the same run and a crashed replica's claim expires by itself.
///
/// A process with an instance identity (`INSTANCE_ID`, or a container's hostname) names its
/// claims `<identity>:<pid>:<tag>`, and may take over, at start-up, the claims an earlier life
/// with the same identity left behind when it died: a stage restarted in place resumes its
/// run at once instead of waiting out the TTL.
public struct RunClaims: Sendable {
    public let redis: RedisClient
    /// Who holds a claim: the identity (or host), pid and a random tag, readable in `redis-cli GET`.
    public let owner: String
    /// `<identity>:` when the process has an instance identity: the start of every owner name
    /// any life of this instance uses, and so of the claims it may take over.
    public let instancePrefix: String?
    /// How long a claim lives without renewal; renewed every third of it while work runs.
    public let ttl: Duration

    public init(redis: RedisClient, instance: String? = nil, ttl: Duration = .seconds(30)) {
        self.init(redis: redis, owner: Self.owner(instance: instance), instance: instance, ttl: ttl)
    }

    /// A fixed owner name (tests); `instance`, when given, must be how `owner` starts.
    public init(redis: RedisClient, owner: String, instance: String? = nil, ttl: Duration = .seconds(30)) {
        precondition(ttl >= .milliseconds(30), "claim TTL too short to renew")
        let prefix = instance.map { "\($0):" }
        precondition(prefix.map(owner.hasPrefix) ?? true, "the owner name must start with the instance identity")
        self.redis = redis
        self.owner = owner
        self.instancePrefix = prefix
        self.ttl = ttl
    }

    static func owner(instance: String?) -> String {
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(instance ?? ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier):\(tag)"
    }

    /// Runs `body` while holding the claim of `phase` on `run`, renewing it in the background.
    ///
    /// - Parameter takingOver: also take the claim from an earlier life of this instance (an
    ///   owner that starts with ``instancePrefix``). Only at start-up: later, such a holder can
    ///   only be this process itself. Ignored without an instance identity.
    /// - Returns: `nil` without running `body` when another owner holds the claim.
    /// - Throws: ``ClaimLost`` (and cancels `body`) when a renewal finds the claim gone or cannot
    ///   reach Redis before the claim would expire; whatever `body` throws otherwise.
    /// - Parameter chunk: claim one chunk of the run rather than the whole run.
    public func withClaim<T: Sendable>(
        _ phase: Phase, run: RunID, chunk: Int? = nil, takingOver: Bool = false, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T? {
        let key = chunk.map { LedgerKey.lock(phase, run, chunk: $0) } ?? LedgerKey.lock(phase, run)
        let claimed: Bool
        if takingOver, let instancePrefix {
            claimed = try await redis.claim(key, owner: owner, ttl: ttl, takingOverFrom: instancePrefix)
        } else {
            claimed = try await redis.claim(key, owner: owner, ttl: ttl)
        }
        guard claimed else { return nil }
        do {
            let result = try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body() }
                group.addTask { try await keepRenewing(key) }
                defer { group.cancelAll() }
                while let value = try await group.next() {
                    if let value { return value }
                }
                throw CancellationError()
            }
            _ = try? await redis.releaseClaim(key, owner: owner)
            return result
        } catch {
            _ = try? await redis.releaseClaim(key, owner: owner)
            throw error
        }
    }

    /// Renews every `ttl / 3`. A failed renewal (Redis restarting, say) is retried every quarter
    /// second until a retry could no longer land before the claim expires: only then is the claim
    /// lost, so an outage shorter than the TTL costs nothing.
    private func keepRenewing(_ key: String) async throws -> Never {
        let interval = ttl / 3
        let retryInterval = min(interval, .milliseconds(250))
        var lastRenewal = ContinuousClock.now
        var wait = interval
        while true {
            try await Task.sleep(for: wait)
            do {
                guard try await redis.renewClaim(key, owner: owner, ttl: ttl) else {
                    throw ClaimLost(key: key, reason: "it expired or another owner holds it")
                }
                lastRenewal = .now
                wait = interval
            } catch let error as ClaimLost {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if ContinuousClock.now - lastRenewal + retryInterval >= ttl {
                    throw ClaimLost(key: key, reason: "could not renew it before it expired: \(error)")
                }
                wait = retryInterval
            }
        }
    }
}
