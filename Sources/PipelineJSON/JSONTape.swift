#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a line is not JSON: what was wrong and where (0-based byte offset).
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(reason) at byte \(offset + 1)" }
}

/// The project's one JSON parser: a document parsed from UTF-8 bytes, as a flat "tape" of nodes
/// whose strings and numbers are spans of those bytes.
///
/// Every stage that reads JSON from outside reads it through this type (the extractor's page
/// envelope, the transformer's rows, the API's stored payloads), so what one stage accepts the
/// next one accepts too: there is no lenient reader upstream of a strict one for hostile input
/// to slip between.
///
/// Nothing is decoded or copied while parsing, so a row costs one pass over its bytes and no
/// allocation once the tape's storage has grown (it is reused from row to row). Keys keep their
/// order, numbers keep their exact text and strings their exact escapes, so a document can be
/// written back value for value. The parser validates all of JSON (RFC 8259): grammar, escapes,
/// UTF-8 inside strings, no control characters, nothing after the value.
///
/// Layout: a container's members follow it on the tape; an object's members alternate key
/// (a string node) and value. Every node records where its subtree ends on the tape (`next`),
/// so a member can be skipped without visiting it.
public struct JSONTape: Sendable {
    public enum Kind: UInt8, Sendable {
        case null, bool, number, string, array, object
    }

    public struct Node: Sendable {
        public var kind: Kind
        /// String: contains a backslash escape. Number: an integer literal (no fraction or exponent).
        /// Bool: the value.
        public var flag: Bool
        /// Byte offset of the node's first byte (a string's opening quote).
        public var start: Int32
        /// Byte offset just past the node's last byte (a string's closing quote).
        public var end: Int32
        /// Members of an array, key-value pairs of an object.
        public var count: Int32
        /// Tape index just past this node's subtree: the next sibling.
        public var next: Int32
    }

    public private(set) var nodes: [Node] = []
    /// The line had no whitespace outside strings: any subtree can be copied byte for byte as
    /// compact JSON.
    public private(set) var isCompact = true

    /// Containers nested deeper than this are refused rather than risk the stack.
    public static let maxDepth = 128
    /// The largest document: node offsets are 32-bit.
    public static let maxBytes = Int(Int32.max)

    public init() {}

    /// Parses `bytes` (one document; surrounding whitespace allowed), replacing the previous one.
    ///
    /// - Parameter recordingDepth: nodes inside more than this many containers are validated but
    ///   not put on the tape: a container at exactly this depth is recorded as a leaf (its
    ///   `count` still counts its members, its text spans them all). A reader that only needs
    ///   the outer structure, such as the extractor finding each user in a page (depth 2), pays
    ///   for validation and not for the nodes of every value inside.
    public mutating func parse(_ bytes: UnsafeRawBufferPointer, recordingDepth: Int = .max) throws(JSONSyntaxError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            nodes.removeAll(keepingCapacity: true)
            throw JSONSyntaxError(offset: 0, reason: "empty document")
        }
        guard bytes.count <= Self.maxBytes else {
            nodes.removeAll(keepingCapacity: true)
            throw JSONSyntaxError(offset: 0, reason: "document larger than \(Self.maxBytes) bytes")
        }
        var parser = Parser(base.assumingMemoryBound(to: UInt8.self), count: bytes.count, recordingDepth: recordingDepth)
        swap(&parser.nodes, &nodes)
        parser.nodes.removeAll(keepingCapacity: true)
        defer {
            swap(&parser.nodes, &nodes)
            isCompact = parser.compact
        }
        try parser.document()
    }

    /// The root node; only valid after a successful ``parse(_:)``.
    public var root: Node { nodes[0] }
}

/// Recursive descent over raw bytes.
private struct Parser {
    let p: UnsafePointer<UInt8>
    let n: Int
    var i = 0
    let recordingDepth: Int
    var nodes: [JSONTape.Node] = []
    var compact = true

    init(_ p: UnsafePointer<UInt8>, count: Int, recordingDepth: Int) {
        self.p = p
        self.n = count
        self.recordingDepth = recordingDepth
    }

    func fail(_ reason: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset ?? i, reason: reason)
    }

    mutating func document() throws(JSONSyntaxError) {
        skipWhitespace()
        guard i < n else { throw fail("no JSON value", at: 0) }
        try value(depth: 0)
        skipWhitespace()
        if i < n { throw fail("unexpected \(describe(p[i])) after the JSON value") }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        let before = i
        while i < n {
            let c = p[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { break }
            i += 1
        }
        if i != before { compact = false }
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) {
        guard i < n else { throw fail("unexpected end of line") }
        switch p[i] {
        case UInt8(ascii: "{"): try object(depth: depth)
        case UInt8(ascii: "["): try array(depth: depth)
        case UInt8(ascii: "\""): try string(record: depth <= recordingDepth)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number(record: depth <= recordingDepth)
        case UInt8(ascii: "t"): try literal("true", .bool, flag: true, record: depth <= recordingDepth)
        case UInt8(ascii: "f"): try literal("false", .bool, flag: false, record: depth <= recordingDepth)
        case UInt8(ascii: "n"): try literal("null", .null, flag: false, record: depth <= recordingDepth)
        default: throw fail("unexpected \(describe(p[i]))")
        }
    }

    mutating func object(depth: Int) throws(JSONSyntaxError) {
        guard depth < JSONTape.maxDepth else { throw fail("nesting deeper than \(JSONTape.maxDepth)") }
        let record = depth <= recordingDepth
        let index = nodes.count
        if record { nodes.append(.init(kind: .object, flag: false, start: Int32(i), end: 0, count: 0, next: 0)) }
        i += 1
        skipWhitespace()
        var count: Int32 = 0
        if i < n && p[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipWhitespace()
                guard i < n else { throw fail("unterminated object") }
                guard p[i] == UInt8(ascii: "\"") else { throw fail("expected a string key, found \(describe(p[i]))") }
                try string(record: depth + 1 <= recordingDepth)
                skipWhitespace()
                guard i < n else { throw fail("unterminated object") }
                guard p[i] == UInt8(ascii: ":") else { throw fail("expected ':' after an object key, found \(describe(p[i]))") }
                i += 1
                skipWhitespace()
                try value(depth: depth + 1)
                count += 1
                skipWhitespace()
                guard i < n else { throw fail("unterminated object") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "}") { i += 1; break }
                throw fail("expected ',' or '}' in an object, found \(describe(p[i]))")
            }
        }
        if record {
            nodes[index].end = Int32(i)
            nodes[index].count = count
            nodes[index].next = Int32(nodes.count)
        }
    }

    mutating func array(depth: Int) throws(JSONSyntaxError) {
        guard depth < JSONTape.maxDepth else { throw fail("nesting deeper than \(JSONTape.maxDepth)") }
        let record = depth <= recordingDepth
        let index = nodes.count
        if record { nodes.append(.init(kind: .array, flag: false, start: Int32(i), end: 0, count: 0, next: 0)) }
        i += 1
        skipWhitespace()
        var count: Int32 = 0
        if i < n && p[i] == UInt8(ascii: "]") {
            i += 1
        } else {
            while true {
                skipWhitespace()
                try value(depth: depth + 1)
                count += 1
                skipWhitespace()
                guard i < n else { throw fail("unterminated array") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "]") { i += 1; break }
                throw fail("expected ',' or ']' in an array, found \(describe(p[i]))")
            }
        }
        if record {
            nodes[index].end = Int32(i)
            nodes[index].count = count
            nodes[index].next = Int32(nodes.count)
        }
    }

    mutating func literal(_ word: StaticString, _ kind: JSONTape.Kind, flag: Bool, record: Bool) throws(JSONSyntaxError) {
        let length = word.utf8CodeUnitCount
        guard n - i >= length, memcmp(p + i, word.utf8Start, length) == 0 else {
            throw fail("unexpected \(describe(p[i]))")
        }
        if record { nodes.append(.init(kind: kind, flag: flag, start: Int32(i), end: Int32(i + length), count: 0, next: Int32(nodes.count + 1))) }
        i += length
    }

    mutating func number(record: Bool) throws(JSONSyntaxError) {
        let start = i
        var integer = true
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n, isDigit(p[i]) else { throw fail("invalid number", at: start) }
        if p[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < n && isDigit(p[i]) { i += 1 }
        }
        if i < n && p[i] == UInt8(ascii: ".") {
            integer = false
            i += 1
            guard i < n, isDigit(p[i]) else { throw fail("invalid number: no digit after the decimal point", at: start) }
            while i < n && isDigit(p[i]) { i += 1 }
        }
        if i < n && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            integer = false
            i += 1
            if i < n && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < n, isDigit(p[i]) else { throw fail("invalid number: no digit in the exponent", at: start) }
            while i < n && isDigit(p[i]) { i += 1 }
        }
        if record {
            nodes.append(.init(kind: .number, flag: integer, start: Int32(start), end: Int32(i), count: 0, next: Int32(nodes.count + 1)))
        }
    }

    /// Scans a string, eight bytes at a time while none of them needs a look (a quote, a
    /// backslash, a control character or a non-ASCII byte).
    mutating func string(record: Bool) throws(JSONSyntaxError) {
        let start = i
        var escapes = false
        i += 1
        let raw = UnsafeRawPointer(p)
        while true {
            while n - i >= 8 {
                let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if Self.needsLook(word) { break }
                i += 8
            }
            guard i < n else { throw fail("unterminated string", at: start) }
            let c = p[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                break
            } else if c == UInt8(ascii: "\\") {
                escapes = true
                try escape()
            } else if c < 0x20 {
                throw fail("control character inside a string")
            } else if c >= 0x80 {
                try utf8Sequence()
            } else {
                i += 1
            }
        }
        if record {
            nodes.append(.init(kind: .string, flag: escapes, start: Int32(start), end: Int32(i), count: 0, next: Int32(nodes.count + 1)))
        }
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    @inline(__always)
    static func needsLook(_ w: UInt64) -> Bool {
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let hasQuote = (quote &- ones) & ~quote
        let hasBackslash = (backslash &- ones) & ~backslash
        let hasControl = (w &- ones &* 0x20) & ~w
        return ((hasQuote | hasBackslash | hasControl) & highs) | (w & highs) != 0
    }

    mutating func escape() throws(JSONSyntaxError) {
        let at = i
        i += 1
        guard i < n else { throw fail("unterminated string") }
        switch p[i] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            i += 1
        case UInt8(ascii: "u"):
            guard n - i >= 5, (1...4).allSatisfy({ isHexDigit(p[i + $0]) }) else {
                throw fail("invalid \\u escape", at: at)
            }
            i += 5
        default:
            throw fail("invalid escape", at: at)
        }
    }

    /// Checks one multi-byte UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
    mutating func utf8Sequence() throws(JSONSyntaxError) {
        let c = p[i]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw fail("invalid UTF-8")
        }
        guard n - i >= length else { throw fail("invalid UTF-8") }
        let second = p[i + 1]
        guard second >= low && second <= high else { throw fail("invalid UTF-8") }
        for k in 2..<length where p[i + k] & 0xC0 != 0x80 {
            throw fail("invalid UTF-8")
        }
        i += length
    }

    @inline(__always) func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || (c | 0x20) &- UInt8(ascii: "a") < 6
    }

    /// What kind of byte `c` is, for a message. Only JSON's own punctuation is quoted: a
    /// message about a line that holds secrets must not carry any of its content.
    func describe(_ c: UInt8) -> String {
        switch c {
        case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: ":"),
             UInt8(ascii: ","), UInt8(ascii: "\""):
            return "'\(Character(Unicode.Scalar(c)))'"
        case 0x00..<0x20, 0x7F: return "a control character"
        case 0x80...: return "a non-ASCII byte"
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return "a digit"
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): return "a letter"
        default: return "a symbol"
        }
    }
}
