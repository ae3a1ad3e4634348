import Crypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one staged file the way docs/STAGING.md requires: into `<name>.part`, buffered, hashed
/// as it goes, then flushed, fsynced and renamed, so a file under its final name is complete and
/// never changes again.
///
/// Memory stays flat however large the file grows: one buffer of `bufferSize` bytes and a
/// running SHA-256. ``checkpoint()`` makes what was appended so far durable and returns the
/// offset to resume from; ``resume(path:at:)`` reopens a `.part` left by a killed process,
/// truncates it to that offset and continues, with the hash recomputed over the kept prefix.
///
/// A writer has one owner and is not `Sendable`.
public final class StagedFileWriter {
    /// The final path; the data is in ``partPath`` until ``commit()``.
    public let path: String
    public var partPath: String { path + ".part" }
    /// Bytes appended so far (buffered or not).
    public private(set) var byteCount: Int
    /// Newline-terminated lines appended so far.
    public private(set) var lineCount: Int

    private var fd: Int32
    private var buffer: [UInt8]
    private let bufferSize: Int
    private var hasher: SHA256
    private var finished = false

    /// Starts a new file, replacing any `.part` a previous attempt left.
    public convenience init(path: String, bufferSize: Int = 1 << 20) throws {
        try StagingLayout.createDirectory(Self.directory(of: path))
        let fd = try Self.openPart(path + ".part", O_WRONLY | O_CREAT | O_TRUNC, operation: "create")
        self.init(path: path, fd: fd, bufferSize: bufferSize, bytes: 0, lines: 0, hasher: SHA256())
    }

    /// Opens a `.part` file owner-only: also one left by an earlier attempt (or an older version).
    private static func openPart(_ part: String, _ flags: Int32, operation: String) throws -> Int32 {
        let fd = open(part, flags | O_CLOEXEC, StagingLayout.fileMode)
        guard fd >= 0 else {
            throw errno == ENOENT && flags & O_CREAT == 0 ? StagingError.missing(path: part) : StagingError.io(operation: operation, path: part, errno: errno)
        }
        guard fchmod(fd, StagingLayout.fileMode) == 0 else {
            let code = errno
            close(fd)
            throw StagingError.io(operation: "chmod", path: part, errno: code)
        }
        return fd
    }

    private init(path: String, fd: Int32, bufferSize: Int, bytes: Int, lines: Int, hasher: SHA256) {
        self.path = path
        self.fd = fd
        self.bufferSize = bufferSize
        self.byteCount = bytes
        self.lineCount = lines
        self.hasher = hasher
        self.buffer = []
        self.buffer.reserveCapacity(bufferSize)
    }

    /// Reopens the `.part` of `path`, truncated to `offset` (a value ``checkpoint()`` returned),
    /// and re-reads the kept prefix to restore the hash and the line count.
    public static func resume(path: String, at offset: Int, bufferSize: Int = 1 << 20) throws -> StagedFileWriter {
        let part = path + ".part"
        let fd = try openPart(part, O_RDWR, operation: "open")
        do {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw StagingError.io(operation: "stat", path: part, errno: errno) }
            guard Int(info.st_size) >= offset else {
                throw StagingError.corrupt(path: part, reason: "it holds \(info.st_size) bytes, fewer than the checkpoint's \(offset)")
            }
            guard ftruncate(fd, off_t(offset)) == 0 else { throw StagingError.io(operation: "truncate", path: part, errno: errno) }
            var hasher = SHA256()
            var lines = 0
            var reader = try ChunkReader(path: part)
            while let chunk = try reader.next() {
                hasher.update(bufferPointer: chunk)
                lines += NewlineCount.count(chunk)
            }
            guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { throw StagingError.io(operation: "seek", path: part, errno: errno) }
            return StagedFileWriter(path: path, fd: fd, bufferSize: bufferSize, bytes: offset, lines: lines, hasher: hasher)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit {
        if !finished { close(fd) }
    }

    /// Appends `bytes` followed by a newline. The bytes must not contain a newline themselves.
    public func appendLine(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count + 1 > bufferSize { try flush() }
        if bytes.count + 1 > bufferSize {
            try writeThrough(bytes)
            try [UInt8(0x0A)].withUnsafeBytes { try writeThrough($0) }
        } else {
            buffer.append(contentsOf: bytes)
            buffer.append(0x0A)
        }
        byteCount += bytes.count + 1
        lineCount += 1
    }

    public func appendLine(_ bytes: some Collection<UInt8>) throws {
        if try bytes.withContiguousStorageIfAvailable({ try appendLine(UnsafeRawBufferPointer($0)) }) == nil {
            try Array(bytes).withUnsafeBytes { try appendLine($0) }
        }
    }

    public func appendLine(_ text: String) throws {
        var text = text
        try text.withUTF8 { try appendLine(UnsafeRawBufferPointer($0)) }
    }

    /// Hands the buffered bytes to the kernel.
    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { (raw) in
            try FileDescriptorIO.writeAll(fd, raw, path: partPath)
            hasher.update(bufferPointer: raw)
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Makes everything appended so far durable and returns the offset a resumed writer starts from.
    @discardableResult
    public func checkpoint() throws -> Int {
        try flush()
        try FileDescriptorIO.sync(fd, path: partPath)
        return byteCount
    }

    /// Flushes, fsyncs, renames `.part` to the final name and fsyncs the directory.
    public func commit() throws -> StagedFile {
        try flush()
        try FileDescriptorIO.sync(fd, path: partPath)
        close(fd)
        finished = true
        guard rename(partPath, path) == 0 else { throw StagingError.io(operation: "rename to \(path)", path: partPath, errno: errno) }
        try FileDescriptorIO.syncDirectory(Self.directory(of: path))
        return StagedFile(path: path, rows: lineCount, bytes: byteCount, sha256: SHA256Digest.hex(hasher.finalize()))
    }

    /// Gives up on the file: closes and removes the `.part`.
    public func abandon() {
        guard !finished else { return }
        close(fd)
        finished = true
        unlink(partPath)
    }

    private func writeThrough(_ bytes: UnsafeRawBufferPointer) throws {
        try FileDescriptorIO.writeAll(fd, bytes, path: partPath)
        hasher.update(bufferPointer: bytes)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
