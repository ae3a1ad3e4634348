import Crypto
import Dispatch
import Foundation
import PipelineCore

/// Why saving a run failed, in words fit for the ledger's `error` and the `etl_runs` row.
public struct SaveFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The transformer's three files of one chunk, found in this saver's staging and described by
/// what the chunk's transform record (``TransformedChunk/files``) says about them.
public struct StagedChunk: Sendable, Equatable {
    public var index: Int
    /// The chunk's run-wide line numbers (``SealedChunk/lines``).
    public var lines: ClosedRange<Int>
    /// `raw.masked.jsonl`: every upstream row, secrets masked (→ `raw_users`, `<run_id>_raw.jsonl`).
    public var rawMasked: StagedFile
    /// `users.jsonl`: the valid rows, enriched (→ `users`, `<run_id>_users.jsonl`).
    public var users: StagedFile
    /// `dlq.jsonl`: the rejected rows with their reasons (→ `dlq_records`, `<run_id>_dlq.jsonl`).
    public var dlq: StagedFile

    /// Matches the record's entries to the files by name and points them at `layout`: the
    /// transformer may see the shared volume under another path than this process.
    public static func locate(run: RunID, sealed: SealedChunk, transformed: TransformedChunk, layout: StagingLayout) throws -> StagedChunk {
        func entry(_ file: ChunkFile) throws -> StagedFile {
            guard var found = transformed.files.first(where: { ($0.path as NSString).lastPathComponent == file.rawValue }) else {
                throw SaveFailure("the transform record of chunk \(sealed.index) of run \(run) lists no \(file.rawValue)")
            }
            found.path = layout.chunkFile(run, sealed.index, file)
            return found
        }
        let staged = StagedChunk(
            index: sealed.index, lines: sealed.lines, rawMasked: try entry(.rawMasked), users: try entry(.users), dlq: try entry(.dlq))
        if staged.users.rows + staged.dlq.rows != staged.rawMasked.rows {
            throw SaveFailure(
                "the transform record of chunk \(sealed.index) of run \(run) disagrees: \(staged.users.rows) valid + \(staged.dlq.rows) rejected rows, but raw.masked.jsonl has \(staged.rawMasked.rows)")
        }
        if staged.rawMasked.rows != sealed.rows {
            throw SaveFailure("raw.masked.jsonl of chunk \(sealed.index) of run \(run) has \(staged.rawMasked.rows) rows, its raw.jsonl had \(sealed.rows)")
        }
        return staged
    }

    /// The files in the order of ``RemoteFile/allCases``: raw, users, dlq.
    public func file(_ remote: RemoteFile) -> StagedFile {
        switch remote {
        case .raw: rawMasked
        case .users: users
        case .dlq: dlq
        }
    }
}

/// The three files a run grows on the SFTP server, a chunk at a time.
public enum RemoteFile: String, Sendable, CaseIterable {
    case raw, users, dlq

    /// `<run_id>_<raw|users|dlq>.jsonl`, and `.age` after it when the file is uploaded encrypted.
    public func name(_ run: RunID, encrypted: Bool = false) -> String {
        "\(run)_\(rawValue).jsonl" + (encrypted ? UploadEncryption.suffix : "")
    }
}

/// One staged file read once for two checksums: its own, checked against the ledger, and the
/// running one of the remote file it is appended to.
struct FileDigest {
    private var own = SHA256()
    private(set) var running: SHA256
    private(set) var bytes = 0

    init(continuing running: SHA256) {
        self.running = running
    }

    mutating func update(_ buffer: UnsafeRawBufferPointer) {
        own.update(bufferPointer: buffer)
        running.update(bufferPointer: buffer)
        bytes += buffer.count
    }

    /// Throws ``StagingError/corrupt(path:reason:)`` unless the bytes read, in `rows` lines,
    /// are those `expected` records.
    func check(rows: Int, against expected: StagedFile) throws {
        try StagedFile(path: expected.path, rows: rows, bytes: bytes, sha256: SHA256Digest.hex(own.finalize())).check(against: expected)
    }

    /// Reads a saved chunk's file again (a resumed save) to continue `running` over it, checking
    /// it on the way: the server's copy is never read back.
    static func continuing(_ running: SHA256, over file: StagedFile) throws -> SHA256 {
        var digest = FileDigest(continuing: running)
        var reader = try JSONLReader(path: file.path)
        var rows = 0
        try reader.forEachLine(reading: { digest.update($0) }) { _, _ in rows += 1 }
        try digest.check(rows: rows, against: file)
        return digest.running
    }
}

/// Runs blocking file work on a dispatch queue, never on Swift's cooperative pool.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "SaverCore.files", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await queue.run(body)
    }
}
