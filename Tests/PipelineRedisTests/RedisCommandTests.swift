import PipelineRedis
import Testing
import TestSupport

extension RedisServerTests {
    @Suite struct Commands {
        let redis = RedisTest.client()

        @Test func pingAnswersPong() async throws {
            #expect(try await redis.ping() == "PONG")
        }

        @Test func setAndGetAreBinarySafe() async throws {
            let key = RedisTest.prefix() + "value"
            let every = (0...255).map(UInt8.init)
            let value: [UInt8] = [0x00, 0x0D, 0x0A] + Array("%s %d\r\n$-1\r\n".utf8) + every + [0x00]
            #expect(try await redis.set(key, value))
            #expect(try await redis.get(key) == value)

            let empty = RedisTest.prefix() + "empty"
            try await redis.set(empty, [UInt8]())
            #expect(try await redis.get(empty) == [])
            #expect(try await redis.get(RedisTest.prefix() + "missing") == nil)

            let text = RedisTest.prefix() + "text"
            try await redis.set(text, "zoë ✓")
            #expect(try await redis.getString(text) == "zoë ✓")
            #expect(try await redis.del(key, empty, text, "never-existed") == 3)
        }

        @Test func hashes() async throws {
            let key = RedisTest.prefix() + "run"
            #expect(try await redis.hset(key, ["status": "extracting", "rows": "0", "error": ""]) == 3)
            #expect(try await redis.hset(key, field: "status", value: "extracted") == 0)
            #expect(try await redis.hget(key, field: "status") == "extracted")
            #expect(try await redis.hget(key, field: "missing") == nil)
            #expect(try await redis.hgetall(key) == ["status": "extracted", "rows": "0", "error": ""])
            #expect(try await redis.hdel(key, fields: ["error", "nope"]) == 1)
            #expect(try await redis.hgetall(RedisTest.prefix() + "missing") == [:])

            let binary: [UInt8] = [0xFF, 0x00, 0x0D, 0x0A]
            try await redis.hset(key, field: "sha", value: binary)
            #expect(try await redis.send("HGET", key, "sha") == .bulk(binary))
        }

        @Test func sortedSets() async throws {
            let key = RedisTest.prefix() + "runs"
            #expect(try await redis.zadd(key, score: 30, member: "c") == 1)
            #expect(try await redis.zadd(key, score: 10, member: "a") == 1)
            #expect(try await redis.zadd(key, score: 20.5, member: "b") == 1)
            #expect(try await redis.zadd(key, score: 40, member: "c") == 0)
            #expect(try await redis.zrange(key) == ["a", "b", "c"])
            #expect(try await redis.zrange(key, start: 0, stop: 1) == ["a", "b"])
            #expect(try await redis.zrevrange(key, start: 0, stop: 1) == ["c", "b"])
            #expect(try await redis.zscore(key, member: "b") == 20.5)
            #expect(try await redis.zscore(key, member: "zz") == nil)
            #expect(try await redis.zrange(RedisTest.prefix() + "missing") == [])
        }

        @Test func setNXWithPXClaimsOnceAndExpires() async throws {
            let key = RedisTest.prefix() + "lock"
            // A TTL wide enough that a loaded machine never lets it lapse between the commands
            // (300 ms did once, in CI); its expiry is then polled for, within a bound.
            #expect(try await redis.set(key, "owner-a", nx: true, px: .seconds(4)))
            #expect(try await redis.set(key, "owner-b", nx: true, px: .seconds(4)) == false)
            #expect(try await redis.getString(key) == "owner-a")
            let ttl = try await redis.pttl(key)
            #expect((1...4000).contains(ttl))
            _ = try await eventually(within: .seconds(30)) { try await redis.get(key) == nil }
            #expect(try await redis.get(key) == nil, "expired")
            #expect(try await redis.set(key, "owner-b", nx: true, px: .seconds(5)))
            // Without NX a SET always wins.
            #expect(try await redis.set(key, "owner-c"))
            #expect(try await redis.pttl(key) == -1)
        }

        @Test func evalCompareAndDelete() async throws {
            let key = RedisTest.prefix() + "lock"
            // A TTL no stall between these commands outlasts.
            #expect(try await redis.claim(key, owner: "owner-a", ttl: .seconds(30)))
            // Someone else's release or renewal does nothing.
            #expect(try await redis.releaseClaim(key, owner: "owner-b") == false)
            #expect(try await redis.renewClaim(key, owner: "owner-b", ttl: .seconds(120)) == false)
            #expect(try await redis.getString(key) == "owner-a")
            #expect(try await redis.pttl(key) <= 30_000)
            // The owner's renewal resets the TTL; its release deletes the key.
            #expect(try await redis.renewClaim(key, owner: "owner-a", ttl: .seconds(120)))
            #expect(try await redis.pttl(key) > 30_000)
            #expect(try await redis.releaseClaim(key, owner: "owner-a"))
            #expect(try await redis.exists(key) == false)
            #expect(try await redis.renewClaim(key, owner: "owner-a", ttl: .seconds(5)) == false)
        }

        @Test func evalReturnsNestedReplies() async throws {
            let key = RedisTest.prefix() + "k"
            let bytes: [UInt8] = [0x00, 0xFF, 0x0A]
            let reply = try await redis.eval(
                "redis.call('SET', KEYS[1], ARGV[1]); return {1, 'two', redis.call('GET', KEYS[1]), false, redis.status_reply('FINE')}",
                keys: [key], args: [bytes]
            )
            #expect(reply == .array([.integer(1), .bulk(Array("two".utf8)), .bulk(bytes), .null, .status("FINE")]))
            #expect(reply.array?[1].string == "two")
            #expect(reply.array?[0].int == 1)
        }

        @Test func genericSendAndIncr() async throws {
            let key = RedisTest.prefix() + "counter"
            #expect(try await redis.send("INCR", key) == .integer(1))
            #expect(try await redis.send(["INCRBY", key, 41]).int == 42)
            #expect(try await redis.incr(key) == 43)
            #expect(try await redis.send("GET", key).string == "43")
        }

        @Test func serverErrorNamesCommandButNotItsArguments() async throws {
            let key = RedisTest.prefix() + "secret-key-name"
            try await redis.hset(key, field: "f", value: "v")
            let error = try await #require(throws: RedisError.self) {
                try await redis.send("GET", key)
            }
            #expect(error.kind == .server)
            #expect(error.serverErrorCode == "WRONGTYPE")
            #expect(error.description == "redis \(RedisTest.url.endpoint): GET: server error: WRONGTYPE Operation against a key holding the wrong kind of value")
            #expect(!error.description.contains("secret-key-name"))
            // An error reply leaves the connection usable.
            #expect(try await redis.ping() == "PONG")
        }

        @Test func closedClientRefusesCalls() async throws {
            let client = RedisTest.client()
            #expect(try await client.ping() == "PONG")
            client.close()
            let error = try await #require(throws: RedisError.self) { try await client.ping() }
            #expect(error.kind == .closed)
            #expect(error.description == "redis \(RedisTest.url.endpoint): PING: client is closed")
        }
    }
}
