import Foundation
import PipelineCore

/// Where and how to reach the SFTP server (docs/ARCHITECTURE.md, "Remote files"; `.env.example`).
///
/// A plain value so it can cross tasks and be logged: ``description`` and the mirror never show
/// the passphrase, only whether there is one.
public struct SFTPConfiguration: Sendable, Equatable {
    /// Host name or address of the server, also the name looked up in known_hosts.
    public var host: String
    public var port: Int
    public var user: String
    /// The client's private key (ed25519 by default: libssh2 1.10 signs RSA with SHA-1,
    /// which OpenSSH 9 refuses).
    public var privateKeyPath: String
    /// The matching public key. When the file does not exist, libssh2 derives the public key
    /// from the private one.
    public var publicKeyPath: String
    /// Decrypts the private key; `nil` or empty for an unencrypted key. Never logged or put in errors.
    public var passphrase: String?
    /// OpenSSH known_hosts file the server's host key must be listed in.
    public var knownHostsPath: String
    /// Limit for name resolution + TCP connect, and again for the SSH handshake.
    public var connectTimeout: Duration
    /// Limit for any single libssh2 call after the handshake (one write, one stat...), so a
    /// server that stops answering cannot hang the caller forever.
    public var ioTimeout: Duration
    /// Bytes handed to one `libssh2_sftp_write`/`libssh2_sftp_read`: 1 MiB reaches the
    /// OpenSSH client's speed on loopback, 32 KiB only about two thirds of it.
    public var bufferSize: Int

    public init(
        host: String,
        port: Int = 22,
        user: String,
        privateKeyPath: String,
        publicKeyPath: String? = nil,
        passphrase: String? = nil,
        knownHostsPath: String,
        connectTimeout: Duration = .seconds(10),
        ioTimeout: Duration = .seconds(30),
        bufferSize: Int = 1 << 20
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.privateKeyPath = privateKeyPath
        self.publicKeyPath = publicKeyPath ?? privateKeyPath + ".pub"
        self.passphrase = passphrase
        self.knownHostsPath = knownHostsPath
        self.connectTimeout = connectTimeout
        self.ioTimeout = ioTimeout
        self.bufferSize = bufferSize
    }

    /// `host:port` as used in every error message (`[::1]:22` for IPv6 literals).
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The configuration from the `SFTP_*` settings (``settings``), with their defaults.
    ///
    /// - Throws: ``ConfigurationError`` naming the variable when a value is unusable, so a stage
    ///   stops at start-up rather than at its first upload.
    public init(from env: SettingsReader) throws {
        func trimmed(_ setting: Setting) -> String {
            let text = env.string(setting).trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? setting.defaultValue : text
        }
        let user = trimmed(.sftpUser)
        guard !user.contains(where: { $0.isWhitespace || $0 == ":" }) else {
            throw ConfigurationError(variable: "SFTP_USER", value: user, expected: "a user name without spaces or colons")
        }
        self.init(
            host: trimmed(.sftpHost),
            port: try env.port(.sftpPort),
            user: user,
            privateKeyPath: trimmed(.sftpKeyPath),
            passphrase: env.value(.sftpKeyPassphrase),
            knownHostsPath: trimmed(.sftpKnownHosts)
        )
    }

    /// The settings ``init(from:)`` reads.
    public static let settings: [Setting] = [.sftpHost, .sftpPort, .sftpUser, .sftpKeyPath, .sftpKeyPassphrase, .sftpKnownHosts]
}

extension Setting {
    public static let sftpHost = Setting("SFTP_HOST", .text, default: "127.0.0.1", help: "The SFTP server the saver uploads to")
    public static let sftpPort = Setting(
        "SFTP_PORT", .port, default: "22", help: "22 for a real server; scripts/run.sh starts a local one on 2222 and sets this")
    public static let sftpUser = Setting("SFTP_USER", .text, default: "sftp_user", help: "The SFTP login, without spaces or colons")
    public static let sftpKeyPath = Setting(
        "SFTP_KEY_PATH", .text, default: "./ssh_keys/id_ed25519",
        help: "ed25519 client key made by scripts/gen-keys.sh (the public key is <path>.pub)")
    public static let sftpKeyPassphrase = Setting(
        "SFTP_KEY_PASSPHRASE", .text, default: "", secret: true, help: "Passphrase of the client key; empty for none")
    public static let sftpKnownHosts = Setting(
        "SFTP_KNOWN_HOSTS", .text, default: "./ssh_keys/known_hosts",
        help: "The server's host key must match a line here; unknown or mismatched hosts are refused")
}

extension SFTPConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "sftp://\(user)@\(endpoint) key=\(privateKeyPath) passphrase=\(passphrase?.isEmpty == false ? "<set>" : "<none>") known_hosts=\(knownHostsPath)"
    }

    public var debugDescription: String { "SFTPConfiguration(\(description))" }

    /// Keeps `dump()` and debuggers from printing the passphrase.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "host": host, "port": port, "user": user,
            "privateKeyPath": privateKeyPath, "publicKeyPath": publicKeyPath,
            "passphrase": passphrase?.isEmpty == false ? "<set>" : "<none>",
            "knownHostsPath": knownHostsPath,
            "connectTimeout": connectTimeout, "ioTimeout": ioTimeout, "bufferSize": bufferSize,
        ])
    }
}
