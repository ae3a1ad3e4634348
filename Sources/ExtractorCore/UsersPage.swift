import Foundation

/// One page of `GET /users` as received: the envelope's numbers and where each user object
/// sits in the body, so the extractor can stage every user byte for byte as the upstream sent it.
///
/// The envelope is `{"users":[…],"total":N,"skip":S,"limit":L}` (DummyJSON's `limit` is the
/// number of users returned). A single validating pass over the body finds it; decoding into
/// Foundation objects and re-encoding would reorder keys and reformat numbers.
public struct UsersPage: Sendable, Equatable {
    public var total: Int
    public var skip: Int
    public var limit: Int?
    /// Byte ranges of the elements of `users`, in order.
    public var users: [Range<Int>]

    /// Parses `body`, or throws ``EnvelopeError`` saying what is wrong with it.
    public static func parse(_ body: [UInt8]) throws(EnvelopeError) -> UsersPage {
        var scanner = JSONScanner(body)
        var total: Int?
        var skip: Int?
        var limit: Int?
        var users: [Range<Int>]?
        try scanner.skipWhitespace()
        try scanner.expect(UInt8(ascii: "{"), "the body is not a JSON object")
        try scanner.skipWhitespace()
        if try !scanner.consume(UInt8(ascii: "}")) {
            repeat {
                try scanner.skipWhitespace()
                let key = try scanner.string()
                try scanner.skipWhitespace()
                try scanner.expect(UInt8(ascii: ":"), "expected ':' after a key")
                try scanner.skipWhitespace()
                switch key {
                case "users": users = try scanner.arrayElements()
                case "total": total = try scanner.integer(named: "total")
                case "skip": skip = try scanner.integer(named: "skip")
                case "limit": limit = try scanner.integer(named: "limit")
                default: try scanner.skipValue(depth: 1)
                }
                try scanner.skipWhitespace()
            } while try scanner.consume(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "}"), "expected ',' or '}' in the envelope")
        }
        try scanner.skipWhitespace()
        guard scanner.atEnd else { throw EnvelopeError("unexpected data after the JSON object at byte \(scanner.position)") }
        guard let users else { throw EnvelopeError("no \"users\" array") }
        guard let total else { throw EnvelopeError("no \"total\"") }
        guard let skip else { throw EnvelopeError("no \"skip\"") }
        guard total >= 0, skip >= 0 else { throw EnvelopeError("negative total (\(total)) or skip (\(skip))") }
        return UsersPage(total: total, skip: skip, limit: limit, users: users)
    }
}

/// Why a body is not the expected envelope.
public struct EnvelopeError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A minimal validating JSON scanner: it checks structure and skips values without building them.
struct JSONScanner {
    private let bytes: [UInt8]
    private(set) var position = 0
    private static let maxDepth = 128

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { position == bytes.count }

    mutating func skipWhitespace() throws(EnvelopeError) {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    mutating func consume(_ byte: UInt8) throws(EnvelopeError) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    mutating func expect(_ byte: UInt8, _ message: String) throws(EnvelopeError) {
        guard try consume(byte) else { throw error(message) }
    }

    /// A string's decoded text (keys only: short, and escapes are rare).
    mutating func string() throws(EnvelopeError) -> String {
        let start = position
        try skipString()
        let raw = bytes[(start + 1)..<(position - 1)]
        if !raw.contains(UInt8(ascii: "\\")) { return String(decoding: raw, as: UTF8.self) }
        return String(decoding: raw, as: UTF8.self).replacingOccurrences(of: "\\\"", with: "\"")
    }

    mutating func integer(named name: String) throws(EnvelopeError) -> Int {
        let start = position
        try skipNumber()
        guard let value = Int(String(decoding: bytes[start..<position], as: UTF8.self)) else {
            throw EnvelopeError("\"\(name)\" is not an integer: \(String(decoding: bytes[start..<position], as: UTF8.self))")
        }
        return value
    }

    /// The byte ranges of an array's elements.
    mutating func arrayElements() throws(EnvelopeError) -> [Range<Int>] {
        try expect(UInt8(ascii: "["), "\"users\" is not an array")
        var elements: [Range<Int>] = []
        try skipWhitespace()
        if try consume(UInt8(ascii: "]")) { return elements }
        repeat {
            try skipWhitespace()
            let start = position
            try skipValue(depth: 2)
            elements.append(start..<position)
            try skipWhitespace()
        } while try consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"), "expected ',' or ']' in \"users\"")
        return elements
    }

    mutating func skipValue(depth: Int) throws(EnvelopeError) {
        guard depth <= Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        guard position < bytes.count else { throw error("unexpected end of the body") }
        switch bytes[position] {
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "{"):
            position += 1
            try skipWhitespace()
            if try consume(UInt8(ascii: "}")) { return }
            repeat {
                try skipWhitespace()
                try skipString()
                try skipWhitespace()
                try expect(UInt8(ascii: ":"), "expected ':' after a key")
                try skipWhitespace()
                try skipValue(depth: depth + 1)
                try skipWhitespace()
            } while try consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "}"), "expected ',' or '}'")
        case UInt8(ascii: "["):
            position += 1
            try skipWhitespace()
            if try consume(UInt8(ascii: "]")) { return }
            repeat {
                try skipWhitespace()
                try skipValue(depth: depth + 1)
                try skipWhitespace()
            } while try consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"), "expected ',' or ']'")
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    private mutating func skipString() throws(EnvelopeError) {
        try expect(UInt8(ascii: "\""), "expected a string")
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""): return
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { throw error("unterminated escape") }
                if bytes[position] == UInt8(ascii: "u") {
                    guard position + 4 < bytes.count, bytes[(position + 1)...(position + 4)].allSatisfy(\.isHexDigit) else {
                        throw error("bad \\u escape")
                    }
                    position += 5
                } else {
                    guard Self.escapable.contains(bytes[position]) else { throw error("bad escape") }
                    position += 1
                }
            case 0x00..<0x20: throw error("control character in a string")
            default: continue
            }
        }
        throw error("unterminated string")
    }

    private mutating func skipNumber() throws(EnvelopeError) {
        let start = position
        _ = try consume(UInt8(ascii: "-"))
        guard digits() > 0 else { position = start; throw error("expected a value") }
        if try consume(UInt8(ascii: ".")) { guard digits() > 0 else { throw error("bad number") } }
        var exponent = try consume(UInt8(ascii: "e"))
        if !exponent { exponent = try consume(UInt8(ascii: "E")) }
        if exponent {
            if try !consume(UInt8(ascii: "+")) { _ = try consume(UInt8(ascii: "-")) }
            guard digits() > 0 else { throw error("bad number exponent") }
        }
    }

    private mutating func digits() -> Int {
        let start = position
        while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
        return position - start
    }

    private mutating func literal(_ word: StaticString) throws(EnvelopeError) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count,
              word.withUTF8Buffer({ Array($0) }) == Array(bytes[position..<(position + count)])
        else { throw error("bad literal") }
        position += count
    }

    private func error(_ message: String) -> EnvelopeError {
        EnvelopeError("\(message) at byte \(position)")
    }

    private static let escapable: Set<UInt8> = Set("\"\\/bfnrt".utf8)
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
}
