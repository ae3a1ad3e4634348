import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the ledger and the signals record about one complete staged file.
public struct StagedFile: Codable, Sendable, Equatable, Hashable {
    /// The file's path as the stage that wrote it saw it.
    public var path: String
    /// Newline-terminated lines (one JSON document each).
    public var rows: Int
    public var bytes: Int
    /// Lower-case hex SHA-256 of the whole file.
    public var sha256: String

    public init(path: String, rows: Int, bytes: Int, sha256: String) {
        self.path = path
        self.rows = rows
        self.bytes = bytes
        self.sha256 = sha256
    }

    /// Reads the file at `path` once and describes it: what a stage checks a staged file against
    /// before trusting it, and what it records after writing one.
    public static func describe(path: String) throws -> StagedFile {
        var hasher = SHA256()
        var rows = 0
        var bytes = 0
        var reader = try ChunkReader(path: path)
        while let chunk = try reader.next() {
            hasher.update(bufferPointer: chunk)
            rows += NewlineCount.count(chunk)
            bytes += chunk.count
        }
        return StagedFile(path: path, rows: rows, bytes: bytes, sha256: SHA256Digest.hex(hasher.finalize()))
    }

    /// Checks that the file at ``path`` still has the recorded rows, size and checksum.
    public func verify() throws {
        try StagedFile.describe(path: path).check(against: self)
    }

    /// Throws ``StagingError/corrupt(path:reason:)`` unless these facts (of a file just read)
    /// have the rows, size and checksum `expected` records.
    public func check(against expected: StagedFile) throws {
        if bytes != expected.bytes { throw StagingError.corrupt(path: path, reason: "\(bytes) bytes, expected \(expected.bytes)") }
        if rows != expected.rows { throw StagingError.corrupt(path: path, reason: "\(rows) rows, expected \(expected.rows)") }
        if sha256 != expected.sha256 { throw StagingError.corrupt(path: path, reason: "SHA-256 \(sha256), expected \(expected.sha256)") }
    }
}

public enum SHA256Digest {
    public static func hex(_ digest: SHA256.Digest) -> String { Hex.encode(digest) }

    public static func hex(of bytes: some DataProtocol) -> String { hex(SHA256.hash(data: bytes)) }
}

/// Lower-case hexadecimal text of bytes, and back.
public enum Hex {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text = ""
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }

    /// The bytes of an even number of hex digits; `nil` for anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        for k in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = value(utf8[k]), let low = value(utf8[k + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static let digits = Array("0123456789abcdef")
}

/// Reads a file in fixed-size chunks through one reused buffer.
struct ChunkReader: ~Copyable {
    private let fd: Int32
    private let path: String
    private let buffer: UnsafeMutableRawBufferPointer

    init(path: String, chunkSize: Int = 1 << 20) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw errno == ENOENT ? StagingError.missing(path: path) : StagingError.io(operation: "open", path: path, errno: errno) }
        self.fd = fd
        self.path = path
        self.buffer = .allocate(byteCount: chunkSize, alignment: 16)
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    /// The next chunk, valid until the following call; `nil` at the end of the file.
    mutating func next() throws -> UnsafeRawBufferPointer? {
        while true {
            let got = read(fd, buffer.baseAddress!, buffer.count)
            if got < 0 { if errno == EINTR { continue }; throw StagingError.io(operation: "read", path: path, errno: errno) }
            return got == 0 ? nil : UnsafeRawBufferPointer(rebasing: buffer[0..<got])
        }
    }
}
