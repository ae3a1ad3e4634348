import CSSH2
import Foundation

/// Checks the server's host key against an OpenSSH known_hosts file.
///
/// Strict by design (docs/ARCHITECTURE.md, "Remote files"): a host that is not listed is refused (no trust on first
/// use — the key generator writes the expected line), and a different key is refused as a
/// possible man-in-the-middle. libssh2 looks up `[host]:port` first, then the bare host name,
/// for plain and hashed lines alike.
enum KnownHostsCheck {
    static func verify(session: SSHSession, host: String, port: Int, knownHostsPath: String) throws(SFTPError) {
        let endpoint = session.endpoint
        func error(_ kind: SFTPError.Kind, _ detail: String, code: Int32? = nil, message: String? = nil) -> SFTPError {
            SFTPError(
                kind: kind, endpoint: endpoint, operation: "host key check", detail: detail,
                libssh2Code: code, libssh2Message: message)
        }
        guard FileManager.default.isReadableFile(atPath: knownHostsPath) else {
            throw error(.knownHosts, "known_hosts file \(knownHostsPath) does not exist or is not readable; refusing to connect without checking the server's host key")
        }
        guard let (key, type) = session.hostKey() else {
            throw error(.handshake, "the server sent no host key")
        }
        guard let keyType = keyTypes[type] else {
            throw error(.hostKeyUnknown, "the server's host key has a type libssh2 cannot check (\(type))")
        }
        let fingerprint = session.hostKeyFingerprint().map { " \($0)" } ?? ""
        let described = "\(keyType.name)\(fingerprint)"

        guard let hosts = libssh2_knownhost_init(session.raw) else {
            throw error(.knownHosts, "libssh2 could not allocate a known-hosts collection")
        }
        defer { libssh2_knownhost_free(hosts) }
        let read = libssh2_knownhost_readfile(hosts, knownHostsPath, LIBSSH2_KNOWNHOST_FILE_OPENSSH)
        if read < 0 {
            let (code, message) = LibSSH2.lastError(session.raw)
            throw error(.knownHosts, "cannot parse known_hosts file \(knownHostsPath)", code: code, message: message)
        }

        let typeMask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keyType.bits
        let result = key.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                libssh2_knownhost_checkp(hosts, host, Int32(port), chars.baseAddress, chars.count, typeMask, nil)
            }
        }
        let lookedUp = port == 22 ? host : "[\(host)]:\(port)"
        switch result {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            return
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            throw error(
                .hostKeyMismatch,
                "host key mismatch: the server's \(described) key is not the one \(knownHostsPath) lists for \(lookedUp); refusing to connect (the server's key changed, or someone is intercepting the connection)")
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            throw error(
                .hostKeyUnknown,
                "host \(lookedUp) not found in \(knownHostsPath) (the server offered \(described)); refusing an unknown host — add its key line (scripts/gen-keys.sh writes it)")
        default:
            let (code, message) = LibSSH2.lastError(session.raw)
            throw error(.knownHosts, "checking the host key against \(knownHostsPath) failed", code: code, message: message)
        }
    }

    /// Per session host-key type: its known-hosts key bits and its name in OpenSSH.
    private static let keyTypes: [Int32: (bits: Int32, name: String)] = [
        LIBSSH2_HOSTKEY_TYPE_RSA: (LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa"),
        LIBSSH2_HOSTKEY_TYPE_DSS: (LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss"),
        LIBSSH2_HOSTKEY_TYPE_ECDSA_256: (LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256"),
        LIBSSH2_HOSTKEY_TYPE_ECDSA_384: (LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384"),
        LIBSSH2_HOSTKEY_TYPE_ECDSA_521: (LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521"),
        LIBSSH2_HOSTKEY_TYPE_ED25519: (LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519"),
    ]
}
