/// Typed helpers for the commands the run ledger and the signals use (docs/ARCHITECTURE.md, "Ledger", "Signals").
///
/// Each one is a thin layer over ``RedisClient/send(_:)``: it builds the argument list and
/// checks the reply's shape, throwing ``RedisError/Kind-swift.enum/unexpectedReply`` when the
/// server answers something the command cannot return (a sign of talking to something that
/// is not Redis, or of a bug here), rather than guessing.
extension RedisClient {
    // MARK: Connection

    /// `PING`: the cheapest round trip, used as a health check; returns `PONG`.
    @discardableResult
    public func ping() async throws -> String {
        try expect(await send("PING"), "PING", "a status") { $0.string }
    }

    /// `FLUSHDB`: empties the URL's database (tests only).
    public func flushdb() async throws {
        _ = try await send("FLUSHDB")
    }

    // MARK: Strings

    /// `GET`: the value's bytes, `nil` when the key does not exist.
    public func get(_ key: String) async throws -> [UInt8]? {
        try expectOrNull(await send("GET", key), "GET", "a bulk string") { $0.bytes }
    }

    /// `GET` of a text value: `nil` when the key does not exist; throws if the bytes are not UTF-8.
    public func getString(_ key: String) async throws -> String? {
        try expectOrNull(await send("GET", key), "GET", "a UTF-8 string") { $0.string }
    }

    /// `SET key value [NX] [PX ms]`; returns whether the value was set.
    ///
    /// With `nx: true` this is the claim primitive (docs/ARCHITECTURE.md, "Ledger"): `false` means another owner
    /// holds the key. `px` is rounded up to whole milliseconds.
    @discardableResult
    public func set(_ key: String, _ value: some RedisArgument, nx: Bool = false, px: Duration? = nil) async throws -> Bool {
        var arguments: [any RedisArgument] = ["SET", key, value]
        if nx { arguments.append("NX") }
        if let px { arguments += ["PX", Self.milliseconds(px)] }
        let reply = try await send(arguments)
        if reply.isNull { return false }
        return try expect(reply, "SET", "OK or null") { $0 == .status("OK") ? true : nil }
    }

    /// `DEL`: how many of the keys existed.
    @discardableResult
    public func del(_ keys: String...) async throws -> Int {
        try await del(keys)
    }

    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try integer(await send(["DEL"] + keys), "DEL")
    }

    /// `EXISTS` of one key.
    public func exists(_ key: String) async throws -> Bool {
        try integer(await send("EXISTS", key), "EXISTS") == 1
    }

    /// `PTTL`: milliseconds left; -1 when the key has no expiry, -2 when it does not exist.
    public func pttl(_ key: String) async throws -> Int {
        try integer(await send("PTTL", key), "PTTL")
    }

    /// `INCRBY` (by 1: `INCR`): the new value.
    @discardableResult
    public func incr(_ key: String, by increment: Int = 1) async throws -> Int {
        try integer(await send("INCRBY", key, increment), "INCRBY")
    }

    // MARK: Hashes

    /// `HSET key field value …`: how many fields were new.
    @discardableResult
    public func hset(_ key: String, _ fields: [String: some RedisArgument]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        var arguments: [any RedisArgument] = ["HSET", key]
        for (field, value) in fields { arguments += [field, value] }
        return try integer(await send(arguments), "HSET")
    }

    @discardableResult
    public func hset(_ key: String, field: String, value: some RedisArgument) async throws -> Int {
        try integer(await send("HSET", key, field, value), "HSET")
    }

    /// `HSETNX`: sets `field` only if the hash lacks it; `true` when this call set it.
    @discardableResult
    public func hsetnx(_ key: String, field: String, value: some RedisArgument) async throws -> Bool {
        try integer(await send("HSETNX", key, field, value), "HSETNX") == 1
    }

    /// `HGET` of a text field; `nil` when the key or field does not exist.
    public func hget(_ key: String, field: String) async throws -> String? {
        try expectOrNull(await send("HGET", key, field), "HGET", "a UTF-8 string") { $0.string }
    }

    /// `HGETALL` of a hash of text fields (the run ledger's `etl:run:<id>`); empty when the key
    /// does not exist. Throws if a field or value is not UTF-8.
    public func hgetall(_ key: String) async throws -> [String: String] {
        let elements = try expect(await send("HGETALL", key), "HGETALL", "an array") { $0.array }
        guard elements.count.isMultiple(of: 2) else { throw unexpected("HGETALL", "odd number of elements") }
        var result: [String: String] = [:]
        for index in stride(from: 0, to: elements.count, by: 2) {
            guard let field = elements[index].string, let value = elements[index + 1].bytes else {
                throw unexpected("HGETALL", "expected UTF-8 field names and bulk values")
            }
            guard let text = String(validating: value, as: UTF8.self) else { throw unexpected("HGETALL", "field \(field) is not UTF-8") }
            result[field] = text
        }
        return result
    }

    /// `HDEL`: how many fields existed.
    @discardableResult
    public func hdel(_ key: String, fields: [String]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        return try integer(await send(["HDEL", key] + fields), "HDEL")
    }

    // MARK: Sorted sets

    /// `ZADD key score member`: 1 when the member is new, 0 when only its score changed.
    @discardableResult
    public func zadd(_ key: String, score: Double, member: String) async throws -> Int {
        try integer(await send("ZADD", key, score, member), "ZADD")
    }

    /// `ZSCORE`: `nil` when the member (or key) does not exist.
    public func zscore(_ key: String, member: String) async throws -> Double? {
        try expectOrNull(await send("ZSCORE", key, member), "ZSCORE", "a number") { $0.double }
    }

    /// `ZRANGE key start stop`: members by ascending score, ranks inclusive, negative from the end.
    public func zrange(_ key: String, start: Int = 0, stop: Int = -1) async throws -> [String] {
        try strings(await send("ZRANGE", key, start, stop), "ZRANGE")
    }

    /// `ZREVRANGE key start stop`: members by descending score (newest runs first in `etl:runs`).
    public func zrevrange(_ key: String, start: Int = 0, stop: Int = -1) async throws -> [String] {
        try strings(await send("ZREVRANGE", key, start, stop), "ZREVRANGE")
    }

    // MARK: Pub/sub and scripts

    /// `PUBLISH`: how many subscribers received the message (0 is not an error: pub/sub is
    /// at-most-once, which is why the ledger is written first).
    @discardableResult
    public func publish(_ channel: String, _ payload: some RedisArgument) async throws -> Int {
        try integer(await send("PUBLISH", channel, payload), "PUBLISH")
    }

    /// `EVAL script numkeys key… arg…`: runs a Lua script atomically and returns its reply as is.
    public func eval(_ script: String, keys: [String] = [], args: [any RedisArgument] = []) async throws -> RedisReply {
        try await send(["EVAL", script, keys.count] + keys + args)
    }

    // MARK: Reply checks

    private func expect<T>(_ reply: RedisReply, _ command: String, _ expected: String, _ extract: (RedisReply) -> T?) throws(RedisError) -> T {
        guard let value = extract(reply) else { throw unexpected(command, "expected \(expected), got \(reply)") }
        return value
    }

    /// ``expect(_:_:_:_:)``, with the null reply (a missing key) as `nil`.
    private func expectOrNull<T>(_ reply: RedisReply, _ command: String, _ expected: String, _ extract: (RedisReply) -> T?) throws(RedisError) -> T? {
        try reply.isNull ? nil : expect(reply, command, expected, extract)
    }

    private func integer(_ reply: RedisReply, _ command: String) throws(RedisError) -> Int {
        guard case .integer(let value) = reply else { throw unexpected(command, "expected an integer, got \(reply)") }
        return value
    }

    private func strings(_ reply: RedisReply, _ command: String) throws(RedisError) -> [String] {
        try expect(reply, command, "an array of UTF-8 strings") { reply in
            guard let elements = reply.array else { return nil }
            let strings = elements.compactMap(\.string)
            return strings.count == elements.count ? strings : nil
        }
    }

    /// An unexpected reply to `command`, as an error of this client (also for the scripts of
    /// the coordination layer, which check their replies the same way).
    public func unexpected(_ command: String, _ message: String) -> RedisError {
        RedisError(kind: .unexpectedReply, endpoint: url.endpoint, command: command, message: message)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        precondition(duration > .zero, "a Redis TTL must be positive")
        return duration.wholeMilliseconds
    }
}
