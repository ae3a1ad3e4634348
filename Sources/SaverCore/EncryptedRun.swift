import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PipelineAge
import PipelineCore
import Synchronization

/// The three files of one save session as age streams: each chunk's staged file goes in, and
/// what comes out is written beside it as the piece that session appends to the remote `.part`
/// (`chunks/<n>/upload-<file>.age`), so an append retried on a new connection resends the same
/// bytes. Once the run's last chunk is in, ``finish()`` ends the streams and their last bytes go
/// in a final piece (`upload-<file>.age.end` in the run's directory).
///
/// A stream cannot outlive its session: a save that resumes, in this saver or another, starts
/// every file again with fresh file keys, from chunk 0 (``RunUploader`` writes it from byte 0).
/// The pieces are removed when the session ends.
final class EncryptedRun: Sendable {
    let run: RunID
    let layout: StagingLayout
    private let streams: [RemoteFile: AgeEncryptor]
    private let digests: Mutex<[RemoteFile: (hash: SHA256, bytes: Int)]>
    private let written: Mutex<[String]>

    init(run: RunID, layout: StagingLayout, encryption: UploadEncryption) throws {
        self.run = run
        self.layout = layout
        streams = Dictionary(uniqueKeysWithValues: try RemoteFile.allCases.map { ($0, try AgeEncryptor(recipients: encryption.recipients)) })
        digests = Mutex(Dictionary(uniqueKeysWithValues: RemoteFile.allCases.map { ($0, (hash: SHA256(), bytes: 0)) }))
        written = Mutex([])
    }

    /// Encrypts `staged`'s three files as the next chunk of each stream; the pieces to append.
    func encrypt(_ staged: StagedChunk) throws -> [RemoteFile: RunUploader.Source] {
        var pieces: [RemoteFile: RunUploader.Source] = [:]
        for file in RemoteFile.allCases {
            let path = "\(layout.chunkDirectory(run, staged.index))/upload-\(file.rawValue)\(UploadEncryption.suffix)"
            pieces[file] = try write(path, file) { stream, sink in
                try stream.encrypt(fileAt: staged.file(file).path, into: sink)
            }
        }
        return pieces
    }

    /// Ends the three streams; the last piece of each.
    func finish() throws -> [RemoteFile: RunUploader.Source] {
        var pieces: [RemoteFile: RunUploader.Source] = [:]
        for file in RemoteFile.allCases {
            let path = "\(layout.runDirectory(run))/upload-\(file.rawValue)\(UploadEncryption.suffix).end"
            pieces[file] = try write(path, file) { stream, sink in try stream.finish(into: sink) }
        }
        return pieces
    }

    /// What the server's copy of `file` holds once every piece so far is in: bytes and SHA-256.
    func ciphertext(_ file: RemoteFile) -> RunUploader.Ciphertext {
        let (hash, bytes) = digests.withLock { $0[file]! }
        return RunUploader.Ciphertext(bytes: bytes, sha256: SHA256Digest.hex(hash.finalize()))
    }

    /// Stops the streams and removes the pieces this session wrote.
    func close() {
        for stream in streams.values { stream.cancel() }
        for path in written.withLock({ $0 }) { unlink(path) }
    }

    private func write(
        _ path: String, _ file: RemoteFile, _ body: (AgeEncryptor, (UnsafeRawBufferPointer) throws -> Void) throws -> Int
    ) throws -> RunUploader.Source {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StagingError.io(operation: "create", path: path, errno: errno) }
        defer { Glibc.close(fd) }
        written.withLock { $0.append(path) }
        var digest = digests.withLock { $0[file]! }
        let bytes = try body(streams[file]!) { buffer in
            try FileDescriptorIO.writeAll(fd, buffer, path: path)
            digest.hash.update(bufferPointer: buffer)
        }
        digest.bytes += bytes
        digests.withLock { $0[file] = digest }
        return RunUploader.Source(path: path, bytes: bytes)
    }
}
