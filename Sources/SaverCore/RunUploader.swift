import Foundation
import Logging
import PipelineCore
import PipelineSFTP

/// Where a run's files go on the SFTP server (docs/STAGING.md, "What the saver records"), and
/// how: a connection per save (``session(logger:)``), retried on a new connection when a
/// transient failure breaks it.
///
/// The three data files grow a chunk at a time as `<name>.part` (``UploadSession/write(_:pieces:from:)``);
/// once the run's last chunk is in, each `.part` is size-checked and renamed into place
/// (``UploadSession/finish(_:final:pieces:)``), and the manifest goes last. Nothing is read
/// back from the server: the sizes it reports, against those the ledger recorded, say what it
/// holds. Host-key, authentication and permission failures are not retried; when the retries
/// run out the error says how many attempts were made and why the last one failed.
public struct RunUploader: Sendable {
    public var configuration: SFTPConfiguration
    public var remoteDirectory: String
    public var retry: RetryPolicy
    var progress: (@Sendable (_ remotePath: String, _ progress: SFTPTransferProgress) -> Void)?

    /// A local file and the name it gets on the server; `ciphertext` when it is sent encrypted.
    public struct Item: Sendable, Equatable {
        public var name: String
        public var local: StagedFile
        var ciphertext: Ciphertext?

        /// What the server holds: the ciphertext's size and checksum, or the file's own.
        var sent: Ciphertext { ciphertext ?? Ciphertext(bytes: local.bytes, sha256: local.sha256) }
    }

    /// The size and SHA-256 of an encrypted file as uploaded.
    struct Ciphertext: Sendable, Equatable, Encodable {
        var bytes: Int
        var sha256: String
    }

    /// A local file sent as one piece of a remote file: a chunk's staged file, or its encrypted piece.
    struct Source: Sendable, Equatable {
        var path: String
        var bytes: Int
    }

    /// One chunk's local file and where the remote file ends once it is appended.
    public struct Piece: Sendable, Equatable {
        public var chunk: Int
        public var path: String
        public var bytes: Int
        /// The remote file's size after this piece (`remote_bytes` of the chunk's save record).
        public var end: Int
        public var start: Int { end - bytes }
    }

    public func remotePath(_ name: String) -> String {
        remoteDirectory == "/" ? "/\(name)" : "\(remoteDirectory)/\(name)"
    }

    public var destination: String {
        "sftp://\(configuration.user)@\(configuration.endpoint)/\(remoteDirectory)"
    }

    /// A connection for one save, opened at its first use; close it when the save ends.
    func session(logger: Logger) -> UploadSession {
        UploadSession(uploader: self, logger: logger)
    }
}

/// One save's SFTP connection. Every operation runs under the uploader's `RetryPolicy`: a
/// transient failure closes the connection, and the operation is tried again on a new one
/// (an append again from the piece's start, cutting back what the broken one left). Used by one
/// task at a time.
final class UploadSession {
    let uploader: RunUploader
    let logger: Logger
    private var client: SFTPClient?
    private var directoryMade = false
    /// Bytes written by this session, data and manifest.
    private(set) var bytesSent: Int64 = 0

    init(uploader: RunUploader, logger: Logger) {
        self.uploader = uploader
        self.logger = logger
    }

    func close() async {
        await client?.close()
        client = nil
    }

    /// Makes the remote file `name` hold exactly `pieces`, appending `pieces[first...]`: each
    /// goes in at its start (the end of the piece before), cutting the file back when it is
    /// longer. When the server holds less than a piece's start (it lost the file, or its end),
    /// the file is written again from the last piece whose end it still covers, or from the
    /// start; that happens at most three times per call.
    func write(_ name: String, pieces: [RunUploader.Piece], from first: Int) async throws {
        let path = uploader.remotePath(name)
        var next = first
        var restarts = 0
        while next < pieces.count {
            let piece = pieces[next]
            let hook = uploader.progress
            let result = try await withClient("append", path) { client in
                try await client.append(localPath: piece.path, remotePath: path, at: piece.start) { report in hook?(path, report) }
            }
            let found = Int(result.sizeFound)
            if !result.appended {
                restarts += 1
                let covered = pieces[..<next].lastIndex { $0.end <= found }
                let resume = covered.map { $0 + 1 } ?? 0
                logger.warning("the server holds less of the file than the ledger recorded; writing it again from chunk \(pieces[resume].chunk)", metadata: [
                    "file": "\(path)", "server_bytes": "\(found)", "recorded_bytes": "\(piece.start)",
                    "from_byte": "\(pieces[resume].start)",
                ])
                guard restarts <= 3 else {
                    throw SaveFailure("\(path) on \(uploader.destination) kept losing bytes: \(found) after writing it again \(restarts - 1) times")
                }
                next = resume
                continue
            }
            if found > piece.start && piece.start > 0 {
                logger.warning("the server holds more of the file than the ledger recorded (an interrupted append); cut back", metadata: [
                    "file": "\(path)", "server_bytes": "\(found)", "cut_to": "\(piece.start)", "chunk": "\(piece.chunk)",
                ])
            }
            bytesSent += result.bytes
            logger.debug("appended", metadata: [
                "file": "\(path)", "chunk": "\(piece.chunk)", "bytes": "\(result.bytes)", "end": "\(piece.end)",
                "ms": "\(Int(result.elapsed.seconds * 1000))",
            ])
            next += 1
        }
    }

    /// Puts the run's `.part` file `part` in place as `final` once it holds every piece: its
    /// size on the server must be the last piece's end (a longer one is cut back, a shorter or
    /// missing one written again as ``write(_:pieces:from:)`` does). When the `.part` is gone
    /// and `final` already has that size, an earlier save renamed it: nothing is sent, unless
    /// `keepRenamed` is false (an encrypted file: the earlier save's is another stream). Returns
    /// whether it renamed.
    @discardableResult
    func finish(_ part: String, final: String, pieces: [RunUploader.Piece], keepRenamed: Bool = true) async throws -> Bool {
        let partPath = uploader.remotePath(part)
        let finalPath = uploader.remotePath(final)
        let total = pieces.last?.end ?? 0
        let (partInfo, finalInfo) = try await withClient("stat", partPath) { client in
            (try await client.stat(partPath), try await client.stat(finalPath))
        }
        if let size = partInfo?.size {
            if Int(size) != total {
                logger.warning("the .part file on the server does not have the size the ledger recorded; writing its last chunk again", metadata: [
                    "file": "\(partPath)", "server_bytes": "\(size)", "recorded_bytes": "\(total)",
                ])
                try await write(part, pieces: pieces, from: max(0, pieces.count - 1))
            }
        } else if keepRenamed, let size = finalInfo?.size, Int(size) == total, finalInfo?.isFile == true {
            logger.info("already in place with the recorded size (renamed by an earlier save)", metadata: ["file": "\(finalPath)", "bytes": "\(total)"])
            return false
        } else {
            logger.warning("the .part file is gone from the server; writing it again from the first chunk", metadata: ["file": "\(partPath)"])
            try await write(part, pieces: pieces, from: 0)
        }
        try await withClient("rename", partPath) { client in
            // The size the server reports is the check that every byte arrived.
            let size = try await client.stat(partPath)?.size
            guard size.map({ Int($0) }) == total else {
                throw SaveFailure("\(partPath) has \(size.map(String.init) ?? "no") bytes on \(uploader.destination), the run's chunks \(total)")
            }
            try await client.rename(from: partPath, to: finalPath, replacing: true)
        }
        return true
    }

    /// Uploads one whole file (the manifest) through `<name>.part`, size-checked and renamed.
    func upload(_ item: RunUploader.Item) async throws -> SFTPTransferResult {
        let path = uploader.remotePath(item.name)
        let hook = uploader.progress
        let result = try await withClient("upload", path) { client in
            try await client.upload(localPath: item.local.path, remotePath: path) { report in hook?(path, report) }
        }
        bytesSent += result.bytes
        return result
    }

    /// Runs `body` with a connection, under the retry policy: a failed attempt's connection is
    /// closed and the next attempt connects again.
    private func withClient<T>(_ operation: String, _ path: String, _ body: (SFTPClient) async throws -> T) async throws -> T {
        do {
            return try await uploader.retry.run({ _ in
                let client = try await connected()
                do {
                    return try await body(client)
                } catch {
                    await close()
                    throw error
                }
            }, classify: SFTPError.classify, onRetry: { event in
                logger.warning("upload failed; retrying on a new connection", metadata: [
                    "retry": "\(event.retry)/\(event.maxRetries)", "delay_s": "\(String(format: "%.1f", event.delay.seconds))",
                    "reason": "\(event.error)", "operation": "\(operation)", "file": "\(path)",
                ])
            })
        } catch let exhausted as RetriesExhausted {
            throw SaveFailure("could not upload the run's files to \(uploader.destination): \(exhausted)")
        } catch let error as SFTPError {
            throw SaveFailure("could not upload the run's files to \(uploader.destination): \(error)")
        }
    }

    private func connected() async throws -> SFTPClient {
        if let client { return client }
        let client = try await SFTPClient.connect(uploader.configuration)
        if !directoryMade {
            do {
                try await client.mkdirs(uploader.remoteDirectory)
            } catch {
                await client.close()
                throw error
            }
            directoryMade = true
        }
        self.client = client
        return client
    }
}
