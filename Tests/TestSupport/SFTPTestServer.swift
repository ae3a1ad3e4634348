import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The local OpenSSH SFTP server of the tests (`scripts/sftp.sh`; docs/ARCHITECTURE.md, "Remote
/// files") on 127.0.0.1, `TEST_SFTP_PORT` (12222) and `TEST_SFTP_USER` (sftp_user), with keys from
/// `ssh_keys/`; and where its files live on disk, so tests can check uploads server-side.
public struct SFTPTestServer: Sendable {
    public let host = "127.0.0.1"
    public let port: Int
    public let user: String

    public var keysDirectory: String { repositoryRoot + "/ssh_keys" }
    public var privateKeyPath: String { keysDirectory + "/id_ed25519" }
    public var publicKeyPath: String { keysDirectory + "/id_ed25519.pub" }
    /// A known_hosts file of this test process for this server (see ``writeKnownHosts(to:)``),
    /// written on first use into a temporary directory: tests never read or rewrite the
    /// repository's `ssh_keys/known_hosts`, whose ports are those of gen-keys.sh's last run.
    public var knownHostsPath: String {
        let path = Self.knownHostsDirectory.file("known_hosts-\(port)")
        if !FileManager.default.fileExists(atPath: path) { try? writeKnownHosts(to: path) }
        return path
    }
    private static let knownHostsDirectory = TemporaryDirectory("sftp-known-hosts")
    public var hostPublicKeyPath: String { keysDirectory + "/ssh_host_ed25519_key.pub" }
    /// The user's chroot on disk; SFTP's `/` for the user.
    public var chrootPath: String { "/var/lib/etl-sftp/\(port)/\(user)" }
    /// The chroot's `upload/` on disk: a remote `upload/x` is `uploadDirectoryOnDisk + "/x"`.
    public var uploadDirectoryOnDisk: String { chrootPath + "/upload" }
    /// The live authorized-keys file sshd reads at every login (outside the chroot).
    public var authorizedKeysPath: String { "/var/lib/etl-sftp/\(port)/authorized_keys/\(user)" }
    /// `host:port` as the client names it in errors.
    public var endpoint: String { "\(host):\(port)" }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.init(
            port: environment["TEST_SFTP_PORT"].flatMap { Int($0) } ?? 12222,
            user: environment["TEST_SFTP_USER"].flatMap { $0.isEmpty ? nil : $0 } ?? "sftp_user")
    }

    /// A server on another port (its own sshd, state and chroot), e.g. one a test may stop.
    public init(port: Int, user: String = "sftp_user") {
        self.port = port
        self.user = user
    }

    /// A server of a test's own on a free port (``freePort()``), for a test that stops it: the
    /// shared one stays up for every other suite. Run it with ``whileRunning(_:)``.
    public static func ofItsOwn() throws -> SFTPTestServer {
        SFTPTestServer(port: try freePort(), user: current.user)
    }

    /// A known_hosts file at `path` listing this server's host key for `[127.0.0.1]:port`.
    public func writeKnownHosts(to path: String) throws {
        let key = try String(contentsOfFile: hostPublicKeyPath, encoding: .utf8).split(separator: " ")
        try "[\(host)]:\(port) \(key[0]) \(key[1])\n".write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The server of this test run.
    public static let current = SFTPTestServer()

    /// Makes sure the server of this test run answers, once per test process (its outcome, a
    /// failure too, is kept). One already answering on the port is used as it is, even one
    /// started from another checkout (which `scripts/sftp.sh start` would refuse).
    public static func ensureRunning() async throws {
        let start = startOnce.withLock { task in
            if let task { return task }
            let started = Task { try await current.ensureAvailable() }
            task = started
            return started
        }
        try await start.value
    }

    private static let startOnce = Mutex<Task<Void, any Error>?>(nil)

    /// Uses the server when something already answers on its port, else starts it with
    /// `scripts/sftp.sh start`.
    public func ensureAvailable() async throws(SFTPTestServerError) {
        if answers() { return }
        try await start()
    }

    /// Whether a TCP connection to the server's port on 127.0.0.1 succeeds (on loopback a
    /// connect succeeds or is refused at once).
    public func answers() -> Bool {
        guard let fd = try? LoopbackSocket.make() else { return false }
        defer { close(fd) }
        return LoopbackSocket.connect(fd, port: UInt16(port)) == 0
    }

    /// `scripts/sftp.sh start`; returns the chroot path it prints.
    @discardableResult
    public func start() async throws(SFTPTestServerError) -> String {
        let result = try await script("start")
        return result.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `scripts/sftp.sh stop`.
    public func stop() async throws(SFTPTestServerError) {
        _ = try await script("stop")
    }

    /// Starts this server, runs `body`, and stops the server afterwards, whether `body` threw or
    /// not (a failing stop is ignored, as a cleanup's would be); then removes what it kept on
    /// disk (its chroot and its sshd state), which a server of a test's own leaves behind.
    public func whileRunning<T>(_ body: () async throws -> T) async throws -> T {
        defer {
            try? FileManager.default.removeItem(atPath: (chrootPath as NSString).deletingLastPathComponent)
            try? FileManager.default.removeItem(atPath: repositoryRoot + "/.run/sshd-\(port)")
        }
        try await start()
        do {
            let result = try await body()
            try? await stop()
            return result
        } catch {
            try? await stop()
            throw error
        }
    }

    private func script(_ command: String) async throws(SFTPTestServerError) -> String {
        let output: ChildProcess.Output
        do {
            output = try await ChildProcess.run(
                repositoryRoot + "/scripts/sftp.sh", [command],
                environment: ["SFTP_PORT": String(port), "SFTP_USER": user])
        } catch {
            throw SFTPTestServerError("cannot run scripts/sftp.sh \(command): \(error)")
        }
        guard output.status == 0 else {
            throw SFTPTestServerError(
                "scripts/sftp.sh \(command) (SFTP_PORT=\(port)) exited with \(output.status): \(output.stderr)")
        }
        return output.stdout
    }

    /// The sshd processes serving open sessions: every descendant of this server's listener
    /// (from its pid file), found through /proc.
    public func sessionProcessIDs() -> [Int32] {
        let pidFile = repositoryRoot + "/.run/sshd-\(port)/sshd.pid"
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let listener = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return [] }
        var children: [Int32: [Int32]] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // "pid (comm) state ppid ...": the comm may contain spaces, so parse after ")".
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, let parent = Int32(fields[1]) { children[parent, default: []].append(pid) }
        }
        var result: [Int32] = []
        var pending = children[listener] ?? []
        while let pid = pending.popLast() {
            result.append(pid)
            pending += children[pid] ?? []
        }
        return result
    }

    /// Sends `signal` (e.g. SIGSTOP to make the server stop answering, SIGCONT to resume) to
    /// every session process of this server, by pid.
    public func signalSessions(_ signal: Int32) {
        for pid in sessionProcessIDs() { kill(pid, signal) }
    }

    /// Lets `publicKeyLine` log in until ``revoke(publicKeyLine:)``: appended to the live
    /// authorized-keys file, which sshd reads at each login.
    public func authorize(publicKeyLine: String) throws(SFTPTestServerError) {
        try Self.authorizedKeysLock.withLock { _ throws(SFTPTestServerError) in
            let line = publicKeyLine.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
            guard let handle = FileHandle(forWritingAtPath: authorizedKeysPath) else {
                throw SFTPTestServerError("cannot open \(authorizedKeysPath) for appending")
            }
            defer { try? handle.close() }
            do {
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(line.utf8))
            } catch {
                throw SFTPTestServerError("cannot append to \(authorizedKeysPath): \(error)")
            }
        }
    }

    /// Removes a line added by ``authorize(publicKeyLine:)``.
    public func revoke(publicKeyLine: String) {
        Self.authorizedKeysLock.withLock { _ in
            let wanted = publicKeyLine.trimmingCharacters(in: .whitespacesAndNewlines)
            guard let text = try? String(contentsOfFile: authorizedKeysPath, encoding: .utf8) else { return }
            let kept = text.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces) != wanted }
            try? (kept.joined(separator: "\n") + "\n").write(toFile: authorizedKeysPath, atomically: true, encoding: .utf8)
        }
    }

    private static let authorizedKeysLock = Mutex(())
}

/// A test-server helper failed; the message says which command and why.
public struct SFTPTestServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
