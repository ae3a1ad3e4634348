#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams a JSONL file line by line with memory bounded by one read buffer plus the longest line.
///
/// Lines are handed out as raw bytes without their newline, valid only inside the callback, so
/// a million-row file is read without a million allocations. A last line with no newline is
/// still a line; a line longer than `maxLineLength` is an error rather than unbounded memory.
public struct JSONLReader: ~Copyable {
    public let path: String
    private var chunks: ChunkReader
    private let maxLineLength: Int

    public init(path: String, chunkSize: Int = 1 << 20, maxLineLength: Int = 16 << 20) throws {
        self.path = path
        self.chunks = try ChunkReader(path: path, chunkSize: chunkSize)
        self.maxLineLength = maxLineLength
    }

    /// Calls `body` with each line's 1-based number and bytes. Stops early when `body` throws.
    public mutating func forEachLine(_ body: (_ number: Int, _ line: UnsafeRawBufferPointer) throws -> Void) throws {
        try forEachLine(reading: { _ in }, body)
    }

    /// ``forEachLine(_:)``, and `reading` sees every byte of the file first, a read buffer at a
    /// time (before the lines in it): a caller checks or hashes the file in the same pass.
    public mutating func forEachLine(
        reading: (_ bytes: UnsafeRawBufferPointer) throws -> Void,
        _ body: (_ number: Int, _ line: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var carry: [UInt8] = []
        var number = 0
        while true {
            guard let chunk = try chunks.next() else { break }
            try reading(chunk)
            var start = 0
            while start < chunk.count {
                let rest = UnsafeRawBufferPointer(rebasing: chunk[start...])
                guard let found = memchr(rest.baseAddress!, 0x0A, rest.count) else {
                    guard carry.count + rest.count <= maxLineLength else {
                        throw StagingError.lineTooLong(path: path, line: number + 1, limit: maxLineLength)
                    }
                    carry.append(contentsOf: rest)
                    break
                }
                let length = UnsafeRawPointer(found) - rest.baseAddress!
                let line = UnsafeRawBufferPointer(start: rest.baseAddress!, count: length)
                number += 1
                start += length + 1
                if carry.isEmpty {
                    // Within one chunk memory is bounded anyway; the limit still holds for every line.
                    guard length <= maxLineLength else {
                        throw StagingError.lineTooLong(path: path, line: number, limit: maxLineLength)
                    }
                    try body(number, line)
                    continue
                }
                guard carry.count + length <= maxLineLength else {
                    throw StagingError.lineTooLong(path: path, line: number, limit: maxLineLength)
                }
                carry.append(contentsOf: line)
                try carry.withUnsafeBytes { whole in try body(number, whole) }
                carry.removeAll(keepingCapacity: true)
            }
        }
        if !carry.isEmpty {
            number += 1
            try carry.withUnsafeBytes { whole in try body(number, whole) }
        }
    }
}

