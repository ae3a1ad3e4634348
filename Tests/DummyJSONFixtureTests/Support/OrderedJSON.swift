/// A small JSON parser that keeps object keys in document order, so tests can check the key
/// order of DummyJSON users, and that rejects anything not JSON (for the malformed fault).
enum JSON: Equatable, CustomStringConvertible {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    /// The number's text as written, and its value.
    case number(String, Double)
    case bool(Bool)
    case null

    static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.array(let a), .array(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.number(let a, _), .number(let b, _)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }

    struct ParseError: Error, CustomStringConvertible {
        let offset: Int
        let reason: String
        var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    static func parse(_ text: String) throws -> JSON {
        try parse(Array(text.utf8))
    }

    static func parse(_ bytes: [UInt8]) throws -> JSON {
        var p = Parser(bytes: bytes)
        p.skipSpace()
        let value = try p.value()
        p.skipSpace()
        guard p.i == bytes.count else { throw ParseError(offset: p.i, reason: "trailing bytes") }
        return value
    }

    var description: String {
        switch self {
        case .object(let pairs): return "{" + pairs.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        case .array(let items): return "[" + items.map(\.description).joined(separator: ",") + "]"
        case .string(let s): return "\"\(s)\""
        case .number(let raw, _): return raw
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        }
    }

    // MARK: Access

    subscript(_ key: String) -> JSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    subscript(_ index: Int) -> JSON? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    var keys: [String] {
        guard case .object(let pairs) = self else { return [] }
        return pairs.map(\.0)
    }

    var array: [JSON]? {
        if case .array(let items) = self { return items }
        return nil
    }

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    var int: Int? {
        if case .number(let raw, _) = self { return Int(raw) }
        return nil
    }

    var double: Double? {
        if case .number(_, let v) = self { return v }
        return nil
    }

    var isString: Bool { string != nil }
    var isNumber: Bool { double != nil }

    // MARK: Parser

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
        }

        func fail(_ reason: String) -> ParseError { ParseError(offset: i, reason: reason) }

        mutating func expect(_ b: UInt8) throws {
            guard i < bytes.count, bytes[i] == b else { throw fail("expected '\(Character(Unicode.Scalar(b)))'") }
            i += 1
        }

        mutating func literal(_ word: String) throws {
            for b in word.utf8 { try expect(b) }
        }

        mutating func value() throws -> JSON {
            guard i < bytes.count else { throw fail("unexpected end") }
            switch bytes[i] {
            case 0x7B: return try object()
            case 0x5B: return try array()
            case 0x22: return .string(try string())
            case 0x74: try literal("true"); return .bool(true)
            case 0x66: try literal("false"); return .bool(false)
            case 0x6E: try literal("null"); return .null
            default: return try number()
            }
        }

        mutating func object() throws -> JSON {
            try expect(0x7B)
            var pairs: [(String, JSON)] = []
            skipSpace()
            if i < bytes.count, bytes[i] == 0x7D { i += 1; return .object(pairs) }
            while true {
                skipSpace()
                let key = try string()
                skipSpace()
                try expect(0x3A)
                skipSpace()
                pairs.append((key, try value()))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end in object") }
                if bytes[i] == 0x2C { i += 1; continue }
                try expect(0x7D)
                return .object(pairs)
            }
        }

        mutating func array() throws -> JSON {
            try expect(0x5B)
            var items: [JSON] = []
            skipSpace()
            if i < bytes.count, bytes[i] == 0x5D { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value())
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end in array") }
                if bytes[i] == 0x2C { i += 1; continue }
                try expect(0x5D)
                return .array(items)
            }
        }

        mutating func string() throws -> String {
            try expect(0x22)
            var out: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("unterminated string") }
                let b = bytes[i]
                i += 1
                switch b {
                case 0x22: return String(decoding: out, as: UTF8.self)
                case 0x5C:
                    guard i < bytes.count else { throw fail("unterminated escape") }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case 0x22, 0x5C, 0x2F: out.append(e)
                    case 0x6E: out.append(0x0A)
                    case 0x74: out.append(0x09)
                    case 0x72: out.append(0x0D)
                    case 0x62: out.append(0x08)
                    case 0x66: out.append(0x0C)
                    case 0x75:
                        guard i + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16),
                              let scalar = Unicode.Scalar(code) else { throw fail("bad \\u escape") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                        i += 4
                    default: throw fail("bad escape")
                    }
                case 0..<0x20: throw fail("control character in string")
                default: out.append(b)
                }
            }
        }

        mutating func number() throws -> JSON {
            let start = i
            if i < bytes.count, bytes[i] == 0x2D { i += 1 }
            let digitsStart = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            guard i > digitsStart else { throw fail("expected a value") }
            if bytes[digitsStart] == 0x30, i - digitsStart > 1 { throw fail("leading zero") }
            if i < bytes.count, bytes[i] == 0x2E {
                i += 1
                let fracStart = i
                while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
                guard i > fracStart else { throw fail("digits expected after '.'") }
            }
            if i < bytes.count, bytes[i] == 0x65 || bytes[i] == 0x45 {
                i += 1
                if i < bytes.count, bytes[i] == 0x2B || bytes[i] == 0x2D { i += 1 }
                let expStart = i
                while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
                guard i > expStart else { throw fail("digits expected in exponent") }
            }
            let raw = String(decoding: bytes[start..<i], as: UTF8.self)
            guard let value = Double(raw) else { throw fail("bad number") }
            return .number(raw, value)
        }
    }
}
