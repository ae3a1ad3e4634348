import PipelineAge

/// The age recipients the run's three files are encrypted to before they leave (settings
/// `SFTP_ENCRYPT_RECIPIENTS` or `SFTP_ENCRYPT_RECIPIENTS_FILE`; docs/ENCRYPTION.md). Only public
/// keys: the pipeline can encrypt but never decrypt what it uploaded.
public struct UploadEncryption: Sendable, Equatable {
    public var recipients: [AgeRecipient]

    public init(recipients: [AgeRecipient]) {
        self.recipients = recipients
    }

    /// `.age`, after the plain name.
    public static let suffix = ".age"

    /// The format, as the manifest names it.
    public static let format = "age-encryption.org/v1"

    /// Runs the tool once on nothing, so a saver without `age` on its PATH, or whose tool
    /// refuses a recipient, stops at start-up instead of failing its first run.
    public func check() throws {
        let probe = try AgeEncryptor(recipients: recipients)
        try probe.finish { _ in }
    }
}
