import DummyJSONFixture
import Testing

/// `FIXTURE_*` variables and validation.
@Suite struct ConfigurationTests {
    @Test func defaults() throws {
        let config = try FixtureConfiguration(environment: [:])
        #expect(config == FixtureConfiguration())
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 8080)
        #expect(config.users == 208)
        #expect(config.seed == 1)
        #expect(config.badFraction == 0)
        #expect(config.faults == .none)
        #expect(config.faults.retryAfterSeconds == 10)
        #expect(config.faults.rateWindowSeconds == 10)
    }

    @Test func everyVariableIsRead() throws {
        let config = try FixtureConfiguration(environment: [
            "FIXTURE_HOST": "0.0.0.0",
            "FIXTURE_PORT": "0",
            "FIXTURE_USERS": "1000000",
            "FIXTURE_SEED": "77",
            "FIXTURE_BAD_FRACTION": "0.05",
            "FIXTURE_FAIL_EVERY": "3",
            "FIXTURE_RATE_LIMIT": "100",
            "FIXTURE_RATE_WINDOW_SECONDS": "0.5",
            "FIXTURE_RETRY_AFTER_SECONDS": "2",
            "FIXTURE_DELAY_MS": "25",
            "FIXTURE_TRUNCATE_REQUESTS": "2, 5,9",
            "FIXTURE_MALFORMED_REQUESTS": "4",
            "FIXTURE_TOTAL_CHANGE_AFTER": "6",
            "FIXTURE_TOTAL_CHANGE_BY": "3",
            "FIXTURE_DOWN": "true",
            "FIXTURE_REPORT_TOTAL": "9223372036854775807",
            "FIXTURE_HOSTILE": "yes",
            "FIXTURE_INVALID_UTF8_USERS": "150",
            "FIXTURE_NAN_USERS": "7, 250",
            "FIXTURE_LOG_LEVEL": "DEBUG",
            "UNRELATED": "x",
        ])
        #expect(config.host == "0.0.0.0")
        #expect(config.port == 0)
        #expect(config.users == 1_000_000)
        #expect(config.seed == 77)
        #expect(config.badFraction == 0.05)
        #expect(config.logLevel == .debug)
        #expect(config.faults == FaultSettings(
            failEvery: 3, rateLimit: 100, rateWindowSeconds: 0.5, retryAfterSeconds: 2, delayMs: 25,
            truncateRequests: [2, 5, 9], malformedRequests: [4], totalChangeAfter: 6, totalChangeBy: 3, down: true,
            reportTotal: Int.max, hostile: true, invalidUTF8Users: [150], nanUsers: [7, 250]
        ))
        #expect(FixtureConfiguration.environmentVariables.count == 20)
    }

    @Test func emptyValuesCountAsAbsent() throws {
        #expect(try FixtureConfiguration(environment: ["FIXTURE_PORT": "", "FIXTURE_DOWN": " "]) == FixtureConfiguration())
    }

    @Test(arguments: [
        ("FIXTURE_PORT", "eighty"),
        ("FIXTURE_PORT", "70000"),
        ("FIXTURE_USERS", "-5"),
        ("FIXTURE_SEED", "-1"),
        ("FIXTURE_BAD_FRACTION", "2"),
        ("FIXTURE_FAIL_EVERY", "-3"),
        ("FIXTURE_TRUNCATE_REQUESTS", "1,x"),
        ("FIXTURE_TRUNCATE_REQUESTS", "0"),
        ("FIXTURE_DOWN", "maybe"),
        ("FIXTURE_HOSTILE", "sometimes"),
        ("FIXTURE_INVALID_UTF8_USERS", "0"),
        ("FIXTURE_NAN_USERS", "7,x"),
        ("FIXTURE_LOG_LEVEL", "loud"),
        ("FIXTURE_RATE_WINDOW_SECONDS", "0"),
    ])
    func malformedValuesAreErrors(name: String, value: String) {
        #expect(throws: FixtureConfigurationError.self) {
            try FixtureConfiguration(environment: [name: value])
        }
    }

    @Test func listeningLine() throws {
        let server = try FixtureServer(configuration: FixtureConfiguration(badFraction: 0.05), logger: quietLogger)
        #expect(server.listeningLine(port: 8080) == "dummyjson fixture listening on http://127.0.0.1:8080/users (users=208 bad=0.05 seed=1)")
        let plain = try FixtureServer(configuration: FixtureConfiguration(users: 10, seed: 4), logger: quietLogger)
        #expect(plain.listeningLine(port: 1234) == "dummyjson fixture listening on http://127.0.0.1:1234/users (users=10 bad=0 seed=4)")
    }
}
