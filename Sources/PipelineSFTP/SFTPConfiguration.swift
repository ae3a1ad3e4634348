import Foundation

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

    /// The configuration from the `SFTP_*` variables of `.env.example`, with their defaults:
    /// `SFTP_HOST` (127.0.0.1), `SFTP_PORT` (22), `SFTP_USER` (sftp_user), `SFTP_KEY_PATH`
    /// (./ssh_keys/id_ed25519), `SFTP_KEY_PASSPHRASE` (empty), `SFTP_KNOWN_HOSTS`
    /// (./ssh_keys/known_hosts).
    ///
    /// - Throws: ``SFTPError`` of kind ``SFTPError/Kind/invalidConfiguration`` naming the
    ///   variable when a value is unusable, so a stage stops at start-up rather than at its
    ///   first upload.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> SFTPConfiguration {
        func value(_ name: String, _ fallback: String) -> String {
            let raw = environment[name]?.trimmingCharacters(in: .whitespaces) ?? ""
            return raw.isEmpty ? fallback : raw
        }
        func invalid(_ message: String) -> SFTPError {
            SFTPError(kind: .invalidConfiguration, endpoint: "-", operation: "configure", detail: message)
        }
        let host = value("SFTP_HOST", "127.0.0.1")
        let portText = value("SFTP_PORT", "22")
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw invalid("SFTP_PORT must be a port number between 1 and 65535, got \"\(portText)\"")
        }
        let user = value("SFTP_USER", "sftp_user")
        guard !user.contains(where: { $0.isWhitespace || $0 == ":" }) else {
            throw invalid("SFTP_USER must be a user name without spaces or colons, got \"\(user)\"")
        }
        let passphrase = environment["SFTP_KEY_PASSPHRASE"] ?? ""
        return SFTPConfiguration(
            host: host,
            port: port,
            user: user,
            privateKeyPath: value("SFTP_KEY_PATH", "./ssh_keys/id_ed25519"),
            passphrase: passphrase.isEmpty ? nil : passphrase,
            knownHostsPath: value("SFTP_KNOWN_HOSTS", "./ssh_keys/known_hosts")
        )
    }
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
