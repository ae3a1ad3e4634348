import PipelineRedis
import Testing

@Suite struct RedisURLTests {
    @Test func parsesHostPortAndDatabase() throws {
        let url = try RedisURL("redis://redis.internal:6380/2")
        #expect(url == RedisURL(host: "redis.internal", port: 6380, database: 2))
        #expect(url.endpoint == "redis.internal:6380")
        #expect(url.description == "redis://redis.internal:6380/2")
    }

    @Test func defaultsToPort6379AndDatabase0() throws {
        #expect(try RedisURL("redis://redis") == RedisURL(host: "redis", port: 6379, database: 0))
        #expect(try RedisURL("redis://127.0.0.1/") == RedisURL(host: "127.0.0.1", port: 6379, database: 0))
        #expect(try RedisURL("REDIS://127.0.0.1:16379") == RedisURL(host: "127.0.0.1", port: 16379, database: 0))
    }

    @Test func parsesPasswordOnly() throws {
        let url = try RedisURL("redis://:s3cr%40t@redis:6379/0")
        #expect(url.user == nil)
        #expect(url.password == "s3cr@t")
        #expect(url.host == "redis")
    }

    @Test func parsesUserAndPasswordContainingAt() throws {
        let url = try RedisURL("redis://etl:p@ss:word@redis:6379/1")
        #expect(url.user == "etl")
        #expect(url.password == "p@ss:word")
        #expect(url.host == "redis")
        #expect(url.database == 1)
    }

    @Test func passwordMayHoldURLDelimitersAndStaysMaskedInErrors() throws {
        let url = try RedisURL("redis://:a/b?c#d@redis:6379/4")
        #expect(url.password == "a/b?c#d")
        #expect(url.host == "redis")
        #expect(url.database == 4)
        #expect {
            try RedisURL("redis://:a/b?c#d@redis:0/4")
        } throws: { error in
            "\(error)" == "invalid REDIS_URL \"redis://***@redis:0/4\": port must be 1-65535"
        }
    }

    @Test func parsesBracketedIPv6() throws {
        let url = try RedisURL("redis://[::1]:7000/3")
        #expect(url.host == "::1")
        #expect(url.endpoint == "[::1]:7000")
    }

    @Test func descriptionRedactsTheCredentials() throws {
        let withUser = try RedisURL("redis://etl:hunter2@redis:6379/1")
        #expect(withUser.description == "redis://***@redis:6379/1")
        let passwordOnly = try RedisURL("redis://:hunter2@redis")
        #expect(passwordOnly.description == "redis://***@redis:6379/0")
        #expect(!"\(withUser) \(passwordOnly)".contains("hunter2"))
        #expect(!"\(withUser)".contains("etl"), "the user name is userinfo too")
    }

    @Test(arguments: [
        ("redis://redis:0/0", "port must be 1-65535"),
        ("redis://redis:65536/0", "port must be 1-65535"),
        ("redis://redis:port/0", "port must be 1-65535"),
        ("redis://redis:+80/0", "port must be 1-65535"),
        ("redis://redis:/0", "port must be 1-65535"),
        ("http://redis:6379/0", "scheme must be redis://, not http://"),
        ("rediss://redis:6379/0", "TLS (rediss://) is not supported"),
        ("redis:6379", "expected redis://host:port/db"),
        ("redis://redis:6379/x", "database must be a non-negative integer, not \"x\""),
        ("redis://redis:6379/-1", "database must be a non-negative integer, not \"-1\""),
        ("redis://:6379/0", "host is missing"),
    ])
    func rejectsMalformedURLsNamingThePart(input: String, reason: String) {
        #expect {
            try RedisURL(input)
        } throws: { error in
            (error as? RedisURLError)?.description == "invalid REDIS_URL \"\(input)\": \(reason)"
        }
    }

    @Test func aQueryIsRejectedAndItsValuesMasked() {
        #expect {
            try RedisURL("redis://redis:6379/0?password=hunter2&timeout=1")
        } throws: { error in
            "\(error)" == "invalid REDIS_URL \"redis://redis:6379/0?password=***&timeout=***\": query parameters and fragments are not supported"
        }
    }

    @Test func userInfoWithoutColonIsRejectedAndMaskedWhole() {
        // Some clients read `redis://secret@host` as a password: mask it all in the message.
        #expect {
            try RedisURL("redis://hunter2@redis:6379/0")
        } throws: { error in
            "\(error)" == "invalid REDIS_URL \"redis://***@redis:6379/0\": credentials must be :password@ or user:password@"
        }
    }

    @Test func errorsNameTheSettingAndRedactThePassword() {
        #expect {
            try RedisURL("redis://etl:hunter2@redis:99999/0", name: "TEST_REDIS_URL")
        } throws: { error in
            "\(error)" == "invalid TEST_REDIS_URL \"redis://***@redis:99999/0\": port must be 1-65535"
        }
    }
}
