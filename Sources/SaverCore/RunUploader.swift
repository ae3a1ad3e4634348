import Crypto
import Foundation
import Logging
import PipelineCore
import PipelineSFTP
import Synchronization

/// Uploads one run's files to the SFTP server (DESIGN.md §7), in the order given (the manifest
/// last), retrying transient failures on a new connection.
///
/// Each file goes to `<name>.part`, is size-checked on the server and renamed into place
/// (``SFTPClient/upload(localPath:remotePath:progress:)``). A file already on the server with
/// the same size and SHA-256 (read back and hashed) is skipped, so a retried or repeated save
/// sends only what is missing. Host-key, authentication and permission failures are not
/// retried; when the retries run out the error says how many attempts were made and why the
/// last one failed.
public struct RunUploader: Sendable {
    public var configuration: SFTPConfiguration
    public var remoteDirectory: String
    public var retry: RetryPolicy
    var progress: (@Sendable (_ remotePath: String, _ progress: SFTPTransferProgress) -> Void)?

    public init(
        configuration: SFTPConfiguration, remoteDirectory: String, retry: RetryPolicy,
        progress: (@Sendable (_ remotePath: String, _ progress: SFTPTransferProgress) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.remoteDirectory = remoteDirectory
        self.retry = retry
        self.progress = progress
    }

    /// A local file and the name it gets on the server.
    public struct Item: Sendable, Equatable {
        public var name: String
        public var local: StagedFile
        public init(name: String, local: StagedFile) {
            self.name = name
            self.local = local
        }
    }

    /// What happened to one file.
    public struct Outcome: Sendable, Equatable {
        /// The remote file: path on the server, rows, bytes and SHA-256 (those of the local file,
        /// which the size check, or the read-back checksum of a skipped file, confirmed).
        public var remote: StagedFile
        /// `false` when the file was already on the server and was skipped.
        public var uploaded: Bool
        public var elapsed: Duration
    }

    public func remotePath(_ name: String) -> String {
        remoteDirectory == "/" ? "/\(name)" : "\(remoteDirectory)/\(name)"
    }

    public var destination: String {
        "sftp://\(configuration.user)@\(configuration.endpoint)/\(remoteDirectory)"
    }

    public func upload(_ items: [Item], logger: Logger) async throws -> [Outcome] {
        try await upload(items, last: nil, logger: logger)
    }

    /// Uploads `items`, then on the same connection the item `last` returns once it is ready
    /// (the saver's manifest, which can only be written when the database loads are done). The
    /// connection waits for it rather than a second SSH handshake paying for it afterwards.
    /// `last` is called once, whatever the retries; an error it throws is not retried.
    public func upload(_ items: [Item], last: (@Sendable () async throws -> Item)?, logger: Logger) async throws -> [Outcome] {
        var done: [String: Outcome] = [:]
        var lastItem: Item?
        do {
            try await retry.run({ attempt in
                let client = try await SFTPClient.connect(configuration)
                do {
                    try await client.mkdirs(remoteDirectory)
                    for item in items where done[item.name] == nil {
                        done[item.name] = try await send(item, with: client, logger: logger)
                    }
                    if let last, lastItem == nil {
                        lastItem = try await last()
                    }
                    if let lastItem, done[lastItem.name] == nil {
                        done[lastItem.name] = try await send(lastItem, with: client, logger: logger)
                    }
                    await client.close()
                } catch {
                    await client.close()
                    throw error
                }
            }, classify: SFTPError.classify, onRetry: { event in
                logger.warning("upload failed; retrying on a new connection", metadata: [
                    "retry": "\(event.retry)/\(event.maxRetries)", "delay_s": "\(Self.format(event.delay.seconds))",
                    "reason": "\(event.error)", "done": "\(done.count)/\(items.count)",
                ])
            })
        } catch let exhausted as RetriesExhausted {
            throw SaveFailure("could not upload the run's files to \(destination): \(exhausted)")
        } catch let error as SFTPError {
            throw SaveFailure("could not upload the run's files to \(destination): \(error)")
        }
        return (items + (lastItem.map { [$0] } ?? [])).map { done[$0.name]! }
    }

    private func send(_ item: Item, with client: SFTPClient, logger: Logger) async throws -> Outcome {
        let clock = ContinuousClock()
        let started = clock.now
        let path = remotePath(item.name)
        let remote = StagedFile(path: path, rows: item.local.rows, bytes: item.local.bytes, sha256: item.local.sha256)
        if let info = try await client.stat(path), info.kind != .directory, info.size == UInt64(item.local.bytes) {
            let checksum = try await Self.sha256(of: path, with: client)
            if checksum == item.local.sha256 {
                logger.info("already on the server with the same size and SHA-256; skipped", metadata: [
                    "file": "\(path)", "bytes": "\(item.local.bytes)",
                ])
                return Outcome(remote: remote, uploaded: false, elapsed: started.duration(to: clock.now))
            }
            logger.warning("a different file of the same size is on the server; replacing it", metadata: [
                "file": "\(path)", "remote_sha256": "\(checksum)", "local_sha256": "\(item.local.sha256)",
            ])
        }
        let hook = progress
        let result = try await client.upload(localPath: item.local.path, remotePath: path) { report in
            hook?(path, report)
            if report.bytesTransferred < report.totalBytes ?? 0 {
                logger.debug("uploading", metadata: [
                    "file": "\(path)", "bytes": "\(report.bytesTransferred)/\(report.totalBytes ?? 0)",
                ])
            }
        }
        logger.info("uploaded", metadata: [
            "file": "\(path)", "bytes": "\(result.bytes)", "rows": "\(item.local.rows)",
            "mib_s": "\(Self.format(result.mebibytesPerSecond))", "ms": "\(Int(result.elapsed.seconds * 1000))",
        ])
        return Outcome(remote: remote, uploaded: true, elapsed: started.duration(to: clock.now))
    }

    /// SHA-256 of a remote file, streamed through the hasher a buffer at a time.
    static func sha256(of path: String, with client: SFTPClient) async throws -> String {
        let hasher = Hasher()
        try await client.read(path) { chunk in
            hasher.state.withLock { $0.update(bufferPointer: chunk) }
        }
        return SHA256Digest.hex(hasher.state.withLock { $0.finalize() })
    }

    private final class Hasher: Sendable {
        let state = Mutex(SHA256())
    }

    static func format(_ value: Double) -> String {
        String(format: "%.1f", value)
    }
}
