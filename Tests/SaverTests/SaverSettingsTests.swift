import Foundation
import PipelineCore
import PipelineDatabase
import SaverCore
import Testing
import TestSupport

@Suite("Saver settings") struct SaverSettingsTests {
    let keys = SFTPTestServer.current

    /// The variables that point at real key files; everything else default.
    var base: [String: String] {
        ["SFTP_KEY_PATH": keys.privateKeyPath, "SFTP_KNOWN_HOSTS": keys.knownHostsPath]
    }

    @Test("defaults follow .env.example")
    func defaults() throws {
        let settings = try SaverSettings(from: SettingsReader(base))
        #expect(settings.databasePath == "./database/data.db")
        #expect(settings.databaseFileMode == .ownerOnly)
        #expect(settings.staging.dataDirectory == "./data")
        #expect(settings.staging.keepRuns == 5)
        #expect(settings.remoteDirectory == "upload")
        #expect(settings.reconcileInterval == .seconds(30))
        #expect(settings.claimTTL == .seconds(30))
        #expect(settings.retry == RetryPolicy.default)
        #expect(settings.sftp.host == "127.0.0.1" && settings.sftp.port == 22 && settings.sftp.user == "sftp_user")
        #expect("\(settings.redisURL)".contains("127.0.0.1:6379"))
    }

    @Test("a bad value stops start-up with a message naming the variable", arguments: [
        ("REDIS_URL", "http://nope"),
        ("STAGING_KEEP_RUNS", "-1"),
        ("RETRY_MAX_RETRIES", "lots"),
        ("RETRY_BASE_DELAY_SECONDS", "-5"),
        ("RECONCILE_INTERVAL_SECONDS", "0"),
        ("CLAIM_TTL_SECONDS", "forever"),
        ("LOG_LEVEL", "loud"),
        ("LOG_FORMAT", "xml"),
        ("SFTP_PORT", "70000"),
        ("SFTP_USER", "two words"),
        ("SFTP_KEY_PATH", "/nonexistent/id_ed25519"),
        ("SFTP_KNOWN_HOSTS", "/nonexistent/known_hosts"),
        ("SFTP_REMOTE_DIR", "../escape"),
        ("DB_PATH", "database/"),
        ("DB_FILE_MODE", "0644"),
        ("DB_FILE_MODE", "600"),
        ("DB_FILE_MODE", "0666"),
    ])
    func badValue(variable: String, value: String) throws {
        var environment = base
        environment[variable] = value
        do {
            _ = try SaverSettings(from: SettingsReader(environment))
            Issue.record("\(variable)=\(value) was accepted")
        } catch {
            #expect("\(error)".contains(variable), "\(error)")
        }
    }

    @Test("SFTP_REMOTE_DIR is trimmed of trailing slashes; the test-only pause hook reads its own variable")
    func remoteDirectoryAndHooks() throws {
        var environment = base
        environment["SFTP_REMOTE_DIR"] = "upload/runs/"
        #expect(try SaverSettings(from: SettingsReader(environment)).remoteDirectory == "upload/runs")
        #expect(try SaverHooks(environment: [:]).pauseAfter == nil)
        #expect(try SaverHooks(environment: ["SAVER_TEST_PAUSE_AFTER": "users"]).pauseAfter == .users)
        #expect(throws: ConfigurationError.self) { try SaverHooks(environment: ["SAVER_TEST_PAUSE_AFTER": "forever"]) }
    }

    @Test("DB_FILE_MODE takes 0600 or 0640")
    func databaseFileMode() throws {
        var environment = base
        environment["DB_FILE_MODE"] = "0640"
        #expect(try SaverSettings(from: SettingsReader(environment)).databaseFileMode == .groupReadable)
        environment["DB_FILE_MODE"] = " 0600 "
        #expect(try SaverSettings(from: SettingsReader(environment)).databaseFileMode == .ownerOnly)
    }

    @Test("the test-only hook is not a setting users see")
    func hookIsNotInEnvExample() throws {
        let example = try String(contentsOfFile: repositoryRoot + "/.env.example", encoding: .utf8)
        #expect(!example.contains("SAVER_TEST"))
        for variable in ["DB_PATH", "DB_FILE_MODE", "DATA_DIR", "STAGING_KEEP_RUNS", "SFTP_REMOTE_DIR", "RECONCILE_INTERVAL_SECONDS"] {
            #expect(example.contains("\(variable)="))
        }
    }
}

extension TemporaryDirectory {
    /// An empty file that lives as long as the test process.
    fileprivate static let emptyFile: String = {
        let path = NSTemporaryDirectory() + "empty-recipients-\(UUID().uuidString.prefix(8))"
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        return path
    }()
}

@Suite("Saver settings: encryption") struct SaverEncryptionSettingsTests {
    static let valid = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    static let other = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"

    static func settings(_ extra: [String: String]) throws -> SaverSettings {
        try SaverSettings(from: SettingsReader(SaverSettingsTests().base.merging(extra) { $1 }))
    }

    @Test("unset or empty: no encryption")
    func offByDefault() throws {
        #expect(try Self.settings([:]).encryption == nil)
        #expect(try Self.settings(["SFTP_ENCRYPT_RECIPIENTS": " "]).encryption == nil)
    }

    @Test("recipients from the variable, comma-separated, or from a file, one per line")
    func recipients() throws {
        let inline = try Self.settings(["SFTP_ENCRYPT_RECIPIENTS": "\(Self.valid), \(Self.other)"])
        #expect(inline.encryption?.recipients.map(\.encoded) == [Self.valid, Self.other])
        let directory = TemporaryDirectory("recipients")
        try "# team\n\(Self.other)\n".write(toFile: directory.file("recipients.txt"), atomically: true, encoding: .utf8)
        let fromFile = try Self.settings(["SFTP_ENCRYPT_RECIPIENTS_FILE": directory.file("recipients.txt")])
        #expect(fromFile.encryption?.recipients.map(\.encoded) == [Self.other])
    }

    @Test("an identity pasted as a recipient is refused without repeating it")
    func anIdentityIsNotEchoed() {
        let secret = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
        #expect {
            _ = try Self.settings(["SFTP_ENCRYPT_RECIPIENTS": secret])
        } throws: { error in
            "\(error)".contains("SFTP_ENCRYPT_RECIPIENTS") && !"\(error)".contains("GFPYYSJZ")
        }
    }

    @Test("a bad value stops start-up naming the variable", arguments: [
        (["SFTP_ENCRYPT_RECIPIENTS": "age1notakey"], "invalid SFTP_ENCRYPT_RECIPIENTS=\"age1notakey\": expected age X25519 recipients"),
        (["SFTP_ENCRYPT_RECIPIENTS": valid, "SFTP_ENCRYPT_RECIPIENTS_FILE": "/etc/hostname"], "one of the two"),
        (["SFTP_ENCRYPT_RECIPIENTS_FILE": "/nonexistent/recipients.txt"], "invalid SFTP_ENCRYPT_RECIPIENTS_FILE"),
        (["SFTP_ENCRYPT_RECIPIENTS_FILE": TemporaryDirectory.emptyFile], "no age recipient given"),
    ])
    func badValues(environment: [String: String], message: String) {
        #expect {
            _ = try Self.settings(environment)
        } throws: { error in
            "\(error)".contains(message)
        }
    }
}
