import Foundation
import PipelineAge
import PipelineCore
import PipelineDatabase
import PipelineRedis
import PipelineSFTP

/// Everything the saver reads from the environment (see `.env.example`).
///
/// A value that cannot be used throws a ``ConfigurationError`` naming the variable, so the
/// process stops at start-up instead of failing its first run.
public struct SaverSettings: Sendable {
    public var redisURL: RedisURL
    public var staging: StagingSettings
    /// The SQLite file the saver writes (`DB_PATH`).
    public var databasePath: String
    /// Who may read it (`DB_FILE_MODE`, `0600` or `0640`).
    public var databaseFileMode: DatabaseFileMode
    public var sftp: SFTPConfiguration
    /// Where each run's files go on the server (`SFTP_REMOTE_DIR`), relative to the login directory.
    public var remoteDirectory: String
    /// Retries of uploads on transient SFTP failures (`RETRY_*`).
    public var retry: RetryPolicy
    public var reconcileInterval: Duration
    /// How long the claim on a run lives without renewal (`CLAIM_TTL_SECONDS`).
    public var claimTTL: Duration
    /// `INSTANCE_ID` (or a container's `HOSTNAME`): see ``PipelineCore/instanceID(from:)``.
    public var instanceID: String?
    public var log: LogSettings
    /// The age recipients uploads are encrypted to (`SFTP_ENCRYPT_RECIPIENTS` or
    /// `SFTP_ENCRYPT_RECIPIENTS_FILE`); nil, the default, uploads the files as they are.
    public var encryption: UploadEncryption?

    public init(
        redisURL: RedisURL, staging: StagingSettings, databasePath: String, sftp: SFTPConfiguration,
        remoteDirectory: String = "upload", retry: RetryPolicy = .default, reconcileInterval: Duration = .seconds(30),
        claimTTL: Duration = .seconds(30), instanceID: String? = nil, log: LogSettings = LogSettings(),
        databaseFileMode: DatabaseFileMode = .default, encryption: UploadEncryption? = nil
    ) {
        self.redisURL = redisURL
        self.staging = staging
        self.databasePath = databasePath
        self.databaseFileMode = databaseFileMode
        self.sftp = sftp
        self.remoteDirectory = remoteDirectory
        self.retry = retry
        self.reconcileInterval = reconcileInterval
        self.claimTTL = claimTTL
        self.instanceID = instanceID
        self.log = log
        self.encryption = encryption
    }

    public init(from env: SettingsReader) throws {
        redisURL = try RedisURL(from: env)
        staging = try StagingSettings(from: env)
        databasePath = try Self.databasePath(env)
        databaseFileMode = try Self.databaseFileMode(env)
        sftp = try Self.sftpConfiguration(env)
        remoteDirectory = try Self.remoteDirectory(env)
        retry = try RetryPolicy(from: env)
        reconcileInterval = try PipelineCore.reconcileInterval(from: env)
        claimTTL = try PipelineCore.claimTTL(from: env)
        instanceID = try PipelineCore.instanceID(from: env)
        log = try LogSettings(from: env)
        encryption = try Self.encryption(env)
    }

    /// `SFTP_ENCRYPT_RECIPIENTS` (comma-separated `age1…` keys) or `SFTP_ENCRYPT_RECIPIENTS_FILE`
    /// (one per line, `#` comments, as `age -R` reads): one of them, or neither. A value holding
    /// an identity (a secret key pasted by mistake) is refused without being repeated.
    static func encryption(_ env: SettingsReader) throws -> UploadEncryption? {
        let inline = env.value(.sftpEncryptRecipients).flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        let file = env.value(.sftpEncryptRecipientsFile).flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
        func shown(_ text: String) -> String? { text.uppercased().contains("AGE-SECRET-KEY-") ? nil : text }
        switch (inline, file) {
        case (nil, nil):
            return nil
        case let (.some, .some(path)):
            throw ConfigurationError(variable: "SFTP_ENCRYPT_RECIPIENTS_FILE", value: path, expected: "unset while SFTP_ENCRYPT_RECIPIENTS is set: one of the two")
        case let (.some(text), nil):
            do {
                return UploadEncryption(recipients: try AgeRecipient.list(text, separator: ","))
            } catch {
                throw ConfigurationError(variable: "SFTP_ENCRYPT_RECIPIENTS", value: shown(text), expected: "age X25519 recipients, age1…, separated by commas (\(error))")
            }
        case let (nil, .some(path)):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(variable: "SFTP_ENCRYPT_RECIPIENTS_FILE", value: path, expected: "a readable file of age recipients, one per line")
            }
            do {
                return UploadEncryption(recipients: try AgeRecipient.list(String(decoding: data, as: UTF8.self), separator: "\n"))
            } catch {
                throw ConfigurationError(variable: "SFTP_ENCRYPT_RECIPIENTS_FILE", value: path, expected: "a file of age X25519 recipients, age1…, one per line (\(error))")
            }
        }
    }

    /// Every setting the saver reads.
    public static let settings: [Setting] = [.redisURL, .databasePath, .databaseFileMode] + SFTPConfiguration.settings
        + [.sftpRemoteDirectory, .sftpEncryptRecipients, .sftpEncryptRecipientsFile, .reconcileInterval, .claimTTL, .instanceID]
        + StagingSettings.settings + RetryPolicy.settings + LogSettings.settings

    static func databasePath(_ env: SettingsReader) throws -> String {
        let path = env.string(.databasePath)
        if path.hasSuffix("/") || path.contains("\0") {
            throw ConfigurationError(variable: "DB_PATH", value: path, expected: "a path to a file (its folder is created when missing)")
        }
        return path
    }

    /// `DB_FILE_MODE`: `0600` (default) or `0640`, nothing else: the database holds every
    /// user's data, so it is never world-readable.
    static func databaseFileMode(_ env: SettingsReader) throws -> DatabaseFileMode {
        let text = env.string(.databaseFileMode).trimmingCharacters(in: .whitespaces)
        guard let mode = DatabaseFileMode(rawValue: text) else {
            throw ConfigurationError(variable: "DB_FILE_MODE", value: text, expected: "0600 (the saver's user only) or 0640 (and its group)")
        }
        return mode
    }

    /// `SFTP_*` through ``SFTPConfiguration/init(from:)``, plus a check that the key and
    /// known_hosts files can be read: a missing key is a setting to fix, not a run to fail.
    static func sftpConfiguration(_ env: SettingsReader) throws -> SFTPConfiguration {
        let configuration = try SFTPConfiguration(from: env)
        try requireReadableFile(configuration.privateKeyPath, variable: "SFTP_KEY_PATH",
                                expected: "a readable private key file (scripts/gen-keys.sh makes one)")
        try requireReadableFile(configuration.knownHostsPath, variable: "SFTP_KNOWN_HOSTS",
                                expected: "a readable known_hosts file listing the server's host key (scripts/gen-keys.sh makes one)")
        return configuration
    }

    private static func requireReadableFile(_ path: String, variable: String, expected: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              FileManager.default.isReadableFile(atPath: path)
        else {
            throw ConfigurationError(variable: variable, value: path, expected: expected)
        }
    }

    static func remoteDirectory(_ env: SettingsReader) throws -> String {
        let raw = env.string(.sftpRemoteDirectory).trimmingCharacters(in: .whitespaces)
        var trimmed = Substring(raw)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        let path = String(trimmed)
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        if path.isEmpty || components.contains("..") || path.contains(where: { $0.isNewline || $0 == "\0" }) {
            throw ConfigurationError(variable: "SFTP_REMOTE_DIR", value: raw, expected: "a directory path on the server without '..' (e.g. upload)")
        }
        return path
    }
}

extension Setting {
    public static let databaseFileMode = Setting(
        "DB_FILE_MODE", .choice(DatabaseFileMode.allCases.map(\.rawValue)), default: "0600",
        help: "Mode of the database file and its -wal/-shm (the saver sets it): 0600 (the saver's user only) or 0640 "
            + "(also its group, for an API that runs as another user of that group). docker compose runs every stage "
            + "and the API as uid 10001, so 0600 works there")
    public static let sftpRemoteDirectory = Setting(
        "SFTP_REMOTE_DIR", .text, default: "upload",
        help: "Remote directory, relative to the login directory, for <run_id>_{raw,users,dlq}.jsonl and <run_id>_manifest.json")
    public static let sftpEncryptRecipients = Setting(
        "SFTP_ENCRYPT_RECIPIENTS", .text, default: "",
        help: "Encrypt the three data files to these age X25519 recipients (public keys, age1..., comma-separated) and "
            + "upload them as <run_id>_<file>.jsonl.age; the manifest stays plain. Empty: plain uploads. "
            + "scripts/gen-keys.sh --age makes an identity and prints its recipient; decrypt with "
            + "age -d -i age_keys/identity.txt FILE.age (docs/ENCRYPTION.md)")
    public static let sftpEncryptRecipientsFile = Setting(
        "SFTP_ENCRYPT_RECIPIENTS_FILE", .text, default: "",
        help: "Or a file of recipients, one per line, # comments allowed (as age -R reads it); not both. "
            + "Not passed by docker compose, which passes SFTP_ENCRYPT_RECIPIENTS")
}

/// Test-only behaviour, off unless set; never listed in `.env.example`. The pause exists only in
/// debug builds (`SAVER_TEST_HOOKS`, Package.swift); the progress callback in every build.
///
/// `SAVER_TEST_PAUSE_AFTER=<step>` (``SaveStep``) makes the saver log `test hook: pausing after
/// <step>` and sleep after that step of the run's first chunk, so a test can kill it in a known
/// window. The progress callback lets in-process tests act in the middle of an upload.
public struct SaverHooks: Sendable {
    public var pauseAfter: SaveStep?
    public var pauseDuration: Duration
    /// Called on the SFTP connection's thread about once per MiB of each upload.
    public var uploadProgress: (@Sendable (_ remotePath: String, _ progress: SFTPTransferProgress) -> Void)?

    public init(
        pauseAfter: SaveStep? = nil, pauseDuration: Duration = .seconds(3600),
        uploadProgress: (@Sendable (_ remotePath: String, _ progress: SFTPTransferProgress) -> Void)? = nil
    ) {
        self.pauseAfter = pauseAfter
        self.pauseDuration = pauseDuration
        self.uploadProgress = uploadProgress
    }

    public static let none = SaverHooks()

    #if SAVER_TEST_HOOKS
    /// Reads `SAVER_TEST_PAUSE_AFTER` (debug builds only: see Package.swift's `saverTestHooks`).
    public init(environment: [String: String]) throws {
        self.init()
        if let text = SettingsReader(environment).variable("SAVER_TEST_PAUSE_AFTER") {
            guard let step = SaveStep.allCases.first(where: { $0.rawValue == text.lowercased() }) else {
                let words = SaveStep.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigurationError(variable: "SAVER_TEST_PAUSE_AFTER", value: text, expected: "one of \(words)")
            }
            pauseAfter = step
        }
    }
    #endif
}

/// The steps of saving a run's first chunk, in order (the hook pauses after one of them).
public enum SaveStep: String, Sendable, CaseIterable {
    /// Chunk 0's `raw_users` transaction.
    case raw
    /// Chunk 0's `users` transaction.
    case users
    /// Chunk 0's `dlq_records` transaction.
    case dlq
    /// Chunk 0's appends to the three remote `.part` files (side by side with its transactions).
    case upload
    /// Chunk 0's save record in the ledger: the next step is chunk 1's first transaction.
    case chunk
}
