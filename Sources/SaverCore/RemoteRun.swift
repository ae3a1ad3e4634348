import Crypto
import PipelineCore

/// The run's three remote files as far as the saved chunks go: for each, the chunk files it is
/// made of with their recorded ends on the server, its rows, and the running SHA-256 of its
/// bytes (of the staged files, which the server's copy equals: nothing is read back).
struct RemoteRun: Sendable {
    private(set) var pieces: [RemoteFile: [RunUploader.Piece]] = [:]
    private var hashes: [RemoteFile: SHA256] = [:]
    private var rows: [RemoteFile: Int] = [:]

    /// Where the next chunk of `file` starts: the last saved chunk's recorded end.
    func end(_ file: RemoteFile) -> Int { pieces[file]?.last?.end ?? 0 }

    func hash(_ file: RemoteFile) -> SHA256 { hashes[file] ?? SHA256() }

    /// The pieces of `file` with `staged`'s appended after them.
    func pieces(with staged: StagedChunk, _ file: RemoteFile) -> [RunUploader.Piece] {
        let local = staged.file(file)
        return (pieces[file] ?? []) + [RunUploader.Piece(chunk: staged.index, path: local.path, bytes: local.bytes, end: end(file) + local.bytes)]
    }

    /// Takes in a chunk just saved: its pieces (as ``pieces(with:_:)`` made them) and the
    /// checksums its loads continued.
    mutating func append(
        _ staged: StagedChunk, pieces newPieces: [[RunUploader.Piece]],
        loaded: (raw: SaverStore.Loaded, users: SaverStore.Loaded, dlq: SaverStore.Loaded)
    ) {
        for (file, filePieces) in zip(RemoteFile.allCases, newPieces) {
            pieces[file] = filePieces
            rows[file, default: 0] += staged.file(file).rows
        }
        hashes[.raw] = loaded.raw.whole
        hashes[.users] = loaded.users.whole
        hashes[.dlq] = loaded.dlq.whole
    }

    /// Takes in a chunk an earlier save recorded: its staged files are read again (and checked)
    /// to continue the checksums; its ends are those `saved` recorded.
    func continued(over staged: StagedChunk, saved: SavedChunk) throws -> RemoteRun {
        var next = self
        for file in RemoteFile.allCases {
            let local = staged.file(file)
            let end = end(file) + local.bytes
            guard saved.remoteBytes[file.rawValue] == end else {
                throw SaveFailure("the save record of chunk \(staged.index) puts the end of \(file.rawValue) at \(saved.remoteBytes[file.rawValue].map(String.init) ?? "nothing"), its staged files at \(end) bytes")
            }
            next.hashes[file] = try FileDigest.continuing(hash(file), over: local)
            next.rows[file, default: 0] += local.rows
            next.pieces[file, default: []].append(RunUploader.Piece(chunk: staged.index, path: local.path, bytes: local.bytes, end: end))
        }
        return next
    }

    /// The whole remote file's rows, bytes and SHA-256 (no path).
    func whole(_ file: RemoteFile) -> StagedFile {
        StagedFile(path: file.rawValue, rows: rows[file] ?? 0, bytes: end(file), sha256: SHA256Digest.hex(hash(file).finalize()))
    }
}
