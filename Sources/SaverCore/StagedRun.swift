import Dispatch
import Foundation
import PipelineCore

/// Why saving a run failed, in words fit for the ledger's `error` and the `etl_runs` row.
public struct SaveFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The transformer's three files of one run, found in this saver's staging and described by
/// what the ledger's `transform_files` recorded about them.
public struct StagedRun: Sendable, Equatable {
    public var id: RunID
    /// `raw.masked.jsonl`: every upstream row, secrets masked (→ `raw_users`, `<run_id>_raw.jsonl`).
    public var rawMasked: StagedFile
    /// `users.jsonl`: the valid rows, enriched (→ `users`, `<run_id>_users.jsonl`).
    public var users: StagedFile
    /// `dlq.jsonl`: the rejected rows with their reasons (→ `dlq_records`, `<run_id>_dlq.jsonl`).
    public var dlq: StagedFile

    /// Matches the ledger's entries to the files by name and points them at `layout`: the
    /// transformer may see the shared volume under another path than this process.
    public static func locate(_ record: RunRecord, layout: StagingLayout) throws -> StagedRun {
        guard let recorded = record.files[.transform], !recorded.isEmpty else {
            throw SaveFailure("run \(record.id) has no transform_files in the ledger")
        }
        func entry(_ name: String, _ localPath: String) throws -> StagedFile {
            guard var file = recorded.first(where: { ($0.path as NSString).lastPathComponent == name }) else {
                throw SaveFailure("the ledger's transform_files of run \(record.id) list no \(name)")
            }
            file.path = localPath
            return file
        }
        let staged = StagedRun(
            id: record.id,
            rawMasked: try entry("raw.masked.jsonl", layout.rawMaskedFile(record.id)),
            users: try entry("users.jsonl", layout.usersFile(record.id)),
            dlq: try entry("dlq.jsonl", layout.dlqFile(record.id)))
        if staged.users.rows + staged.dlq.rows != staged.rawMasked.rows {
            throw SaveFailure(
                "the ledger's transform_files of run \(record.id) disagree: \(staged.users.rows) valid + \(staged.dlq.rows) rejected rows, but raw.masked.jsonl has \(staged.rawMasked.rows)")
        }
        if let raw = record.files[.extract]?.first(where: { ($0.path as NSString).lastPathComponent == "raw.jsonl" }),
           raw.rows != staged.rawMasked.rows {
            throw SaveFailure("raw.masked.jsonl of run \(record.id) has \(staged.rawMasked.rows) rows, raw.jsonl had \(raw.rows)")
        }
        return staged
    }

    public var files: [StagedFile] { [rawMasked, users, dlq] }

    /// Re-reads every file and checks its rows, size and SHA-256 against the ledger, off the
    /// cooperative pool (hashing is blocking file I/O). The files are checked side by side, one
    /// thread each: hashing is CPU-bound and the two large files keep both cores busy. The error
    /// thrown is that of the first file, in ``files`` order, that fails.
    public func verify() async throws {
        let checks = files.map { file in Task { try await BlockingIO.run { try file.verify() } } }
        var failure: (any Error)?
        for check in checks {
            do { try await check.value } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }
}

/// Runs blocking file work on a dispatch queue, never on Swift's cooperative pool.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "SaverCore.files", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
