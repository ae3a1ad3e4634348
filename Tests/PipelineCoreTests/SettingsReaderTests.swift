import PipelineCore
import Synchronization
import Testing

@Suite struct SettingsReaderTests {
    @Test func defaultsApplyWhenUnsetOrEmpty() throws {
        let env = SettingsReader(["RETRY_MAX_RETRIES": ""])
        let policy = try RetryPolicy(from: env)
        #expect(policy == RetryPolicy(maxRetries: 3, baseDelay: .seconds(5), multiplier: 3, maxDelay: .seconds(60)))
        #expect(try LogSettings(from: env) == LogSettings(level: .info, format: .text))
        #expect(try StagingSettings(from: env) == StagingSettings(dataDirectory: "./data", keepRuns: 5))
        #expect(try reconcileInterval(from: env) == .seconds(30))
    }

    @Test func readsGivenValues() throws {
        let env = SettingsReader([
            "RETRY_MAX_RETRIES": "5", "RETRY_BASE_DELAY_SECONDS": "0.01", "RETRY_MULTIPLIER": "2",
            "RETRY_MAX_DELAY_SECONDS": "0.5", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json",
            "DATA_DIR": "/srv/data", "STAGING_KEEP_RUNS": "2",
        ])
        let policy = try RetryPolicy(from: env)
        #expect(policy.maxRetries == 5)
        #expect(policy.baseDelay == .milliseconds(10))
        #expect(policy.multiplier == 2)
        #expect(policy.maxDelay == .milliseconds(500))
        #expect(try LogSettings(from: env) == LogSettings(level: .debug, format: .json))
        #expect(try StagingSettings(from: env) == StagingSettings(dataDirectory: "/srv/data", keepRuns: 2))
    }

    @Test(arguments: [
        ("RETRY_MAX_RETRIES", "three", #"invalid RETRY_MAX_RETRIES="three": expected an integer in 0...100"#),
        ("RETRY_MAX_RETRIES", "-1", #"invalid RETRY_MAX_RETRIES="-1": expected an integer in 0...100"#),
        ("RETRY_MULTIPLIER", "0.5", #"invalid RETRY_MULTIPLIER="0.5": expected a number in 1...100"#),
        ("RETRY_BASE_DELAY_SECONDS", "nan", #"invalid RETRY_BASE_DELAY_SECONDS="nan": expected a number in 0...3600"#),
    ])
    func rejectsBadRetryValues(variable: String, value: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) { try RetryPolicy(from: SettingsReader([variable: value])) }
        #expect(error?.variable == variable)
        #expect(error?.description == message)
    }

    @Test func rejectsMaxDelayBelowBase() {
        let error = #expect(throws: ConfigurationError.self) {
            try RetryPolicy(from: SettingsReader(["RETRY_BASE_DELAY_SECONDS": "10", "RETRY_MAX_DELAY_SECONDS": "5"]))
        }
        #expect(error?.variable == "RETRY_MAX_DELAY_SECONDS")
        #expect(error?.description.contains("at least RETRY_BASE_DELAY_SECONDS") == true)
    }

    @Test func rejectsUnknownWords() {
        let error = #expect(throws: ConfigurationError.self) { try LogSettings(from: SettingsReader(["LOG_FORMAT": "xml"])) }
        #expect(error?.description == #"invalid LOG_FORMAT="xml": expected one of text, json"#)
    }

    @Test func urlsAndPorts() throws {
        let env = SettingsReader(["BAD_URL": "ftp://example.com/users", "BAD_PORT": "70000", "GOOD_URL": "http://127.0.0.1:9000/users"])
        func url(_ name: String) -> Setting { Setting(name, .httpURL, default: "https://example.com/", help: "a URL") }
        func port(_ name: String) -> Setting { Setting(name, .port, default: "8000", help: "a port") }
        #expect(try env.httpURL(url("GOOD_URL")).absoluteString == "http://127.0.0.1:9000/users")
        #expect(try env.httpURL(url("UNSET_URL")).absoluteString == "https://example.com/")
        let urlError = #expect(throws: ConfigurationError.self) { try env.httpURL(url("BAD_URL")) }
        #expect(urlError?.description == #"invalid BAD_URL="ftp://example.com/users": expected an http:// or https:// URL with a host"#)
        let portError = #expect(throws: ConfigurationError.self) { try env.port(port("BAD_PORT")) }
        #expect(portError?.description == #"invalid BAD_PORT="70000": expected a TCP port in 1...65535"#)
        #expect(try env.port(port("OTHER_PORT")) == 8000)
    }

    /// A declared default goes through the same check as a given value, so a wrong declaration
    /// shows at the first read rather than as a silently odd setting.
    @Test func aDefaultIsCheckedLikeAValue() {
        let wrong = Setting("WRONG_DEFAULT", .integer(1...10), default: "11", help: "a number")
        let error = #expect(throws: ConfigurationError.self) { try SettingsReader([:]).int(wrong) }
        #expect(error?.description == #"invalid WRONG_DEFAULT="11": expected an integer in 1...10"#)
    }

    /// The reader reports each setting read (by declaration), and not other variables.
    @Test func readsAreReported() throws {
        let seen = Mutex<[String]>([])
        let env = SettingsReader(["PAGE_SIZE": "7"]) { setting in seen.withLock { $0.append(setting.name) } }
        #expect(try LogSettings(from: env) == LogSettings())
        #expect(env.variable("HOSTNAME") == nil)
        #expect(seen.withLock { $0 } == ["LOG_LEVEL", "LOG_FORMAT"])
    }
}
