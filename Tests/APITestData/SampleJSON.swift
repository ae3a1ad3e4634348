import Foundation
import PipelineJSON

/// A small ordered JSON value for building staged lines with keys in upstream order.
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

/// Compact JSON text of a ``SampleJSON``, as the stages write each JSONL line: through the
/// project's one JSON writer.
public struct JSONLine {
    public let text: String

    public init(_ value: SampleJSON) {
        text = JSONWriter.string(value.json)
    }
}

extension SampleJSON {
    /// The same document as a ``JSONValue``.
    public var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let flag): .bool(flag)
        case .number(let number): .int(number)
        case .decimal(let number): .number("\(number)")
        case .string(let text): .string(text)
        case .array(let items): .array(items.map(\.json))
        case .object(let members): .object(members.map { JSONMember($0.0, $0.1.json) })
        }
    }
}
