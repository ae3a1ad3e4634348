import PipelineRedis
import Testing

@Suite struct RedisURLTests {
    @Test(arguments: [
        ("redis://redis.internal:6380/2", RedisURL(host: "redis.internal", port: 6380, database: 2)),
        ("redis://redis", RedisURL(host: "redis", port: 6379, database: 0)),
        ("redis://127.0.0.1/", RedisURL(host: "127.0.0.1", port: 6379, database: 0)),
        ("REDIS://127.0.0.1:16379", RedisURL(host: "127.0.0.1", port: 16379, database: 0)),
        ("redis://:s3cr%40t@redis:6379/0", RedisURL(host: "redis", password: "s3cr@t")),
        // Credentials end at the last "@", so a password may hold "@", ":" and URL delimiters.
        ("redis://etl:p@ss:word@redis:6379/1", RedisURL(host: "redis", database: 1, user: "etl", password: "p@ss:word")),
        ("redis://:a/b?c#d@redis:6379/4", RedisURL(host: "redis", database: 4, password: "a/b?c#d")),
        ("redis://[::1]:7000/3", RedisURL(host: "::1", port: 7000, database: 3)),
    ])
    func parsesEveryPart(input: String, expected: RedisURL) throws {
        #expect(try RedisURL(input) == expected)
    }

    @Test func endpointAndDescription() throws {
        let url = try RedisURL("redis://redis.internal:6380/2")
        #expect(url.endpoint == "redis.internal:6380")
        #expect(url.description == "redis://redis.internal:6380/2")
        #expect(try RedisURL("redis://[::1]:7000/3").endpoint == "[::1]:7000")
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

    @Test(arguments: [
        ("redis://:a/b?c#d@redis:0/4", "REDIS_URL", #"invalid REDIS_URL "redis://***@redis:0/4": port must be 1-65535"#),
        ("redis://redis:6379/0?password=hunter2&timeout=1", "REDIS_URL",
         #"invalid REDIS_URL "redis://redis:6379/0?password=***&timeout=***": query parameters and fragments are not supported"#),
        // Some clients read `redis://secret@host` as a password: mask it all in the message.
        ("redis://hunter2@redis:6379/0", "REDIS_URL",
         #"invalid REDIS_URL "redis://***@redis:6379/0": credentials must be :password@ or user:password@"#),
        ("redis://etl:hunter2@redis:99999/0", "TEST_REDIS_URL", #"invalid TEST_REDIS_URL "redis://***@redis:99999/0": port must be 1-65535"#),
    ])
    func errorsNameTheSettingAndMaskCredentialsAndQueryValues(input: String, name: String, message: String) {
        #expect { try RedisURL(input, name: name) } throws: { error in "\(error)" == message }
    }
}
