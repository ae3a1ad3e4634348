import Crypto
import PipelineCore

/// The run's three remote files as far as the saved chunks go: for each, the pieces it is made
/// of with their ends on the server, its rows, and the running SHA-256 and size of its plaintext
/// (of the staged files, which the server's copy equals, or decrypts to: nothing is read back).
/// A piece is a chunk's staged file, or its encrypted piece when uploads are encrypted.
struct RemoteRun: Sendable {
    private(set) var pieces: [RemoteFile: [RunUploader.Piece]] = [:]
    private var hashes: [RemoteFile: SHA256] = [:]
    private var rows: [RemoteFile: Int] = [:]
    private var plaintextBytes: [RemoteFile: Int] = [:]

    /// Where the next piece of `file` starts: the last piece's end.
    func end(_ file: RemoteFile) -> Int { pieces[file]?.last?.end ?? 0 }

    func hash(_ file: RemoteFile) -> SHA256 { hashes[file] ?? SHA256() }

    /// The pieces of `file` with `source` (chunk `chunk`'s) appended after them.
    func pieces(adding source: RunUploader.Source, chunk: Int, _ file: RemoteFile) -> [RunUploader.Piece] {
        (pieces[file] ?? []) + [RunUploader.Piece(chunk: chunk, path: source.path, bytes: source.bytes, end: end(file) + source.bytes)]
    }

    /// Takes in a chunk just saved: its pieces (as ``pieces(adding:chunk:_:)`` made them) and
    /// the checksums its loads continued.
    mutating func append(
        _ staged: StagedChunk, pieces newPieces: [[RunUploader.Piece]],
        loaded: (raw: SaverStore.Loaded, users: SaverStore.Loaded, dlq: SaverStore.Loaded)
    ) {
        for (file, filePieces) in zip(RemoteFile.allCases, newPieces) {
            pieces[file] = filePieces
            rows[file, default: 0] += staged.file(file).rows
            plaintextBytes[file, default: 0] += staged.file(file).bytes
        }
        hashes[.raw] = loaded.raw.whole
        hashes[.users] = loaded.users.whole
        hashes[.dlq] = loaded.dlq.whole
    }

    /// Takes in a chunk an earlier save recorded: its staged files are read again (and checked)
    /// to continue the checksums. Sent as they are, its ends must be those `saved` recorded;
    /// sent encrypted (`encrypted`, this session's pieces), the ends are the new pieces'.
    func continued(over staged: StagedChunk, saved: SavedChunk, encrypted: [RemoteFile: RunUploader.Source]? = nil) throws -> RemoteRun {
        var next = self
        for file in RemoteFile.allCases {
            let local = staged.file(file)
            let source = encrypted?[file] ?? RunUploader.Source(path: local.path, bytes: local.bytes)
            let end = end(file) + source.bytes
            if encrypted == nil, saved.remoteBytes[file.rawValue] != end {
                throw SaveFailure("the save record of chunk \(staged.index) puts the end of \(file.rawValue) at \(saved.remoteBytes[file.rawValue].map(String.init) ?? "nothing"), its staged files at \(end) bytes")
            }
            next.hashes[file] = try FileDigest.continuing(hash(file), over: local)
            next.rows[file, default: 0] += local.rows
            next.plaintextBytes[file, default: 0] += local.bytes
            next.pieces[file] = pieces(adding: source, chunk: staged.index, file)
        }
        return next
    }

    /// `file`'s last piece, after the chunks: the end of an encrypted stream.
    mutating func appendEnd(_ source: RunUploader.Source, _ file: RemoteFile, chunk: Int) {
        pieces[file] = pieces(adding: source, chunk: chunk, file)
    }

    /// The whole plaintext of `file`: rows, bytes and SHA-256 (no path).
    func whole(_ file: RemoteFile) -> StagedFile {
        StagedFile(path: file.rawValue, rows: rows[file] ?? 0, bytes: plaintextBytes[file] ?? 0, sha256: SHA256Digest.hex(hash(file).finalize()))
    }
}
