import Foundation

/// A small ordered JSON value for building staged lines with keys in upstream order, written
/// independently of the API's own JSON code (which is under test).
public indirect enum SampleJSON: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByDictionaryLiteral,
    ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    case null
    case bool(Bool)
    case number(Int)
    case decimal(Double)
    case string(String)
    case array([SampleJSON])
    case object([(String, SampleJSON)])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(dictionaryLiteral elements: (String, SampleJSON)...) { self = .object(elements) }
    public init(arrayLiteral elements: SampleJSON...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }

    public static func == (lhs: SampleJSON, rhs: SampleJSON) -> Bool { JSONLine(lhs).text == JSONLine(rhs).text }

    public subscript(key: String) -> SampleJSON? {
        members?.first(where: { $0.0 == key })?.1
    }

    public var members: [(String, SampleJSON)]? {
        if case .object(let members) = self { return members }
        return nil
    }

    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var int: Int? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var double: Double? {
        switch self {
        case .number(let value): Double(value)
        case .decimal(let value): value
        default: nil
        }
    }

    /// The object with `key` set in place (or appended when new).
    public func setting(_ key: String, _ value: SampleJSON) -> SampleJSON {
        guard var members else { return self }
        if let index = members.firstIndex(where: { $0.0 == key }) {
            members[index].1 = value
        } else {
            members.append((key, value))
        }
        return .object(members)
    }

    public func removing(_ key: String) -> SampleJSON {
        guard let members else { return self }
        return .object(members.filter { $0.0 != key })
    }
}

/// Compact JSON text of a ``SampleJSON``, as the stages write each JSONL line.
public struct JSONLine {
    public let text: String

    public init(_ value: SampleJSON) {
        var out = ""
        Self.write(value, into: &out)
        text = out
    }

    private static func write(_ value: SampleJSON, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .number(let number): out += String(number)
        case .decimal(let number): out += "\(number)"
        case .string(let text): writeString(text, into: &out)
        case .array(let items):
            out += "["
            for (offset, item) in items.enumerated() {
                if offset > 0 { out += "," }
                write(item, into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (offset, member) in members.enumerated() {
                if offset > 0 { out += "," }
                writeString(member.0, into: &out)
                out += ":"
                write(member.1, into: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
