/// Claims on a run (docs/ARCHITECTURE.md, "Ledger"): `SET etl:lock:<phase>:<run_id> <owner> NX PX <ttl>`,
/// renewed while working, released when done.
///
/// Renewing and releasing must check the owner and act in one step: with a `GET` then a
/// `PEXPIRE`/`DEL`, a claim that expired in between and was taken by another replica would
/// be extended or deleted on that replica's behalf. A Lua script runs atomically in Redis.
extension RedisClient {
    /// Extends the key's TTL only while it still holds `owner`: `KEYS[1]`, `ARGV[1]` owner, `ARGV[2]` ms.
    static let compareAndPExpireScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 0
        """

    /// Deletes the key only while it still holds `owner`: `KEYS[1]`, `ARGV[1]` owner.
    static let compareAndDeleteScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0
        """

    /// Sets the key to `owner` when nobody holds it or when its holder starts with `prefix` and is
    /// not `owner` itself: `KEYS[1]`, `ARGV[1]` owner, `ARGV[2]` prefix, `ARGV[3]` ms.
    static let claimOrTakeOverScript = """
        local held = redis.call('GET', KEYS[1])
        if held == ARGV[1] then
            return 0
        end
        if held == false or string.sub(held, 1, string.len(ARGV[2])) == ARGV[2] then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
            return 1
        end
        return 0
        """

    /// Takes the claim if nobody holds it, or if an owner whose name starts with `prefix` holds
    /// it (an earlier life of this process: see ``claim(_:owner:ttl:)``), in one step. Returns
    /// whether this owner now holds it; `false` when `owner` itself already does.
    public func claim(_ key: String, owner: String, ttl: Duration, takingOverFrom prefix: String) async throws -> Bool {
        precondition(!prefix.isEmpty, "an empty prefix would take over every claim")
        let reply = try await eval(Self.claimOrTakeOverScript, keys: [key], args: [owner, prefix, Self.milliseconds(ttl)])
        guard case .integer(let taken) = reply else { throw unexpected("EVAL", "expected an integer, got \(reply)") }
        return taken == 1
    }

    /// Takes the claim if nobody holds it; it expires after `ttl` unless renewed.
    /// Returns whether this owner now holds it.
    public func claim(_ key: String, owner: String, ttl: Duration) async throws -> Bool {
        try await set(key, owner, nx: true, px: ttl)
    }

    /// Resets the claim's TTL to `ttl` if `owner` still holds it. `false` means the claim was
    /// lost (it expired, and possibly another replica took it): stop working on the run.
    public func renewClaim(_ key: String, owner: String, ttl: Duration) async throws -> Bool {
        let reply = try await eval(Self.compareAndPExpireScript, keys: [key], args: [owner, Self.milliseconds(ttl)])
        guard case .integer(let renewed) = reply else { throw unexpected("EVAL", "expected an integer, got \(reply)") }
        return renewed == 1
    }

    /// Deletes the claim if `owner` still holds it; returns whether it did.
    @discardableResult
    public func releaseClaim(_ key: String, owner: String) async throws -> Bool {
        let reply = try await eval(Self.compareAndDeleteScript, keys: [key], args: [owner])
        guard case .integer(let released) = reply else { throw unexpected("EVAL", "expected an integer, got \(reply)") }
        return released == 1
    }
}
