import Foundation
import PipelineCore
import PipelineSFTP
import Testing

/// Configuration and error values, without a server.
@Suite("SFTP configuration and errors")
struct SFTPConfigurationTests {
    @Test("the defaults are the declared ones")
    func environmentDefaults() throws {
        let configuration = try SFTPConfiguration(from: SettingsReader([:]))
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 22)
        #expect(configuration.user == "sftp_user")
        #expect(configuration.privateKeyPath == "./ssh_keys/id_ed25519")
        #expect(configuration.publicKeyPath == "./ssh_keys/id_ed25519.pub")
        #expect(configuration.passphrase == nil)
        #expect(configuration.knownHostsPath == "./ssh_keys/known_hosts")
        #expect(configuration.endpoint == "127.0.0.1:22")
    }

    @Test("environment values are used, and a bad port names the variable")
    func environmentValues() throws {
        let configuration = try SFTPConfiguration(from: SettingsReader([
            "SFTP_HOST": " sftp ", "SFTP_PORT": "2222", "SFTP_USER": "etl",
            "SFTP_KEY_PATH": "/keys/id", "SFTP_KEY_PASSPHRASE": "pw", "SFTP_KNOWN_HOSTS": "/keys/kh",
        ]))
        #expect(configuration.endpoint == "sftp:2222")
        #expect(configuration.user == "etl")
        #expect(configuration.publicKeyPath == "/keys/id.pub")
        #expect(configuration.passphrase == "pw")
        #expect(configuration.knownHostsPath == "/keys/kh")

        for bad in ["0", "65536", "twenty-two", "-1"] {
            let error = try #require(throws: ConfigurationError.self) { try SFTPConfiguration(from: SettingsReader(["SFTP_PORT": bad])) }
            #expect(error.description == "invalid SFTP_PORT=\"\(bad)\": expected a TCP port in 1...65535")
        }
        let user = try #require(throws: ConfigurationError.self) { try SFTPConfiguration(from: SettingsReader(["SFTP_USER": "a:b"])) }
        #expect(user.description == "invalid SFTP_USER=\"a:b\": expected a user name without spaces or colons")
    }

    @Test("the passphrase never shows in descriptions or dumps")
    func passphraseIsRedacted() {
        let configuration = SFTPConfiguration(
            host: "127.0.0.1", port: 2222, user: "sftp_user", privateKeyPath: "/k/id_ed25519",
            passphrase: "hunter2-secret", knownHostsPath: "/k/known_hosts")
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in [configuration.description, configuration.debugDescription, "\(configuration)", String(reflecting: configuration), dumped] {
            #expect(!text.contains("hunter2-secret"), "leaked in: \(text)")
            #expect(text.contains("<set>"))
        }
    }

    @Test("SFTP status codes read as words")
    func statusNames() {
        #expect(SFTPStatus.noSuchFile.description == "no such file (SFTP status 2)")
        #expect(SFTPStatus.permissionDenied.name == "permission denied")
        #expect(SFTPStatus.failure.name == "failure")
        #expect(SFTPStatus(code: 99).name == "unknown status")
        #expect(SFTPStatus.noSuchPath.meansMissing)
    }

    @Test("transient kinds retry, the rest fail")
    func classification() {
        func error(_ kind: SFTPError.Kind, status: SFTPStatus? = nil, code: Int32? = nil) -> SFTPError {
            SFTPError(kind: kind, endpoint: "127.0.0.1:2222", operation: "op", detail: "d", libssh2Code: code, sftpStatus: status)
        }
        for kind in [SFTPError.Kind.connect, .timeout, .connectionLost, .nameResolution, .sizeMismatch] {
            #expect(error(kind).retryDecision == .retry(retryAfter: nil), "\(kind)")
        }
        for kind in [SFTPError.Kind.invalidConfiguration, .knownHosts, .hostKeyUnknown, .hostKeyMismatch, .authentication, .localFile, .closed] {
            #expect(error(kind).retryDecision == .fail, "\(kind)")
        }
        #expect(error(.remote, status: .permissionDenied).retryDecision == .fail)
        #expect(error(.remote, status: .noSuchFile).retryDecision == .fail)
        #expect(error(.remote, status: .connectionLost).retryDecision == .retry(retryAfter: nil))
        #expect(error(.handshake, code: -13).retryDecision == .retry(retryAfter: nil))
        #expect(error(.handshake, code: -5).retryDecision == .fail)
        #expect(SFTPError.classify(CancellationError()) == .fail)
    }
}
