import Dispatch
import Foundation
import PipelineCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One output file being written: a ``StagedFileWriter`` (buffered, hashed, `.part` then
/// rename) driven from a serial queue of its own, so that the three outputs are written and
/// hashed in parallel with each other and with the reading thread.
///
/// Without a queue, work runs on the caller's thread. The first error is kept and reported by
/// ``finish()``; work submitted after it is skipped.
final class OutputFile: @unchecked Sendable {
    let writer: StagedFileWriter
    private let queue: DispatchQueue?
    private let failure = Mutex<(any Error)?>(nil)
    private let writeBehind: WriteBehind?

    init(path: String, queueLabel: String?) throws {
        writer = try StagedFileWriter(path: path)
        queue = queueLabel.map { DispatchQueue(label: $0) }
        writeBehind = WriteBehind(path: writer.partPath)
    }

    /// Whether some work failed (``drain()`` throws its error).
    var hasFailed: Bool { failure.withLock { $0 != nil } }

    /// Runs `work` with the writer after all earlier work (skipped once something failed), then
    /// `finally` in any case.
    func submit(_ work: @escaping @Sendable (StagedFileWriter) throws -> Void, finally: @escaping @Sendable () -> Void = {}) {
        let body: @Sendable () -> Void = { [self] in
            defer { finally() }
            guard !hasFailed else { return }
            do {
                try work(writer)
                writeBehind?.advance(to: writer.byteCount)
            } catch {
                failure.withLock { $0 = $0 ?? error }
            }
        }
        if let queue { queue.async(execute: body) } else { body() }
    }

    /// Waits for the submitted work; throws the first error it met.
    func drain() throws {
        queue?.sync {}
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Drains, then flushes, fsyncs and renames the file.
    func commit() throws -> StagedFile {
        try drain()
        writeBehind?.close()
        return try writer.commit()
    }

    /// Drains and removes the `.part`.
    func abandon() {
        queue?.sync {}
        writeBehind?.close()
        writer.abandon()
    }
}

/// Starts the kernel writing a growing file's pages to disk every few MiB (`sync_file_range`
/// with `SYNC_FILE_RANGE_WRITE`, which does not wait), so that the fsync at commit finds little
/// left to write and disk time overlaps the transform instead of following it. Linux only; a
/// no-op where the call is missing.
final class WriteBehind: @unchecked Sendable {
    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    private static let syncFileRange: SyncFileRange? = {
        #if os(Linux)
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: SyncFileRange.self)
        #else
        return nil
        #endif
    }()
    /// `SYNC_FILE_RANGE_WRITE`.
    private static let startWrite: UInt32 = 2
    static let step = 8 << 20

    private var fd: Int32
    private var started = 0

    init?(path: String) {
        guard Self.syncFileRange != nil else { return nil }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
    }

    /// `bytes` have been appended (some may still be in the writer's buffer).
    func advance(to bytes: Int) {
        guard fd >= 0, bytes - started >= 2 * Self.step, let call = Self.syncFileRange else { return }
        let end = bytes - Self.step
        _ = call(fd, Int64(started), Int64(end - started), Self.startWrite)
        started = end
    }

    func close() {
        if fd >= 0 { closeDescriptor(fd) }
        fd = -1
    }

    deinit { close() }
}

/// `close(2)`, callable where a method named `close` hides it.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
