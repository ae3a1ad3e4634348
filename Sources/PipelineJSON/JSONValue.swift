/// A JSON document as a value: what the API reads out of the database's JSON columns and what
/// it writes in every response.
///
/// A value read but not looked into can stay its text (``JSONFragment``): the writer copies it.
///
/// Objects keep their members in order (a user's payload reads in the upstream's key order,
/// the OpenAPI document in the order it is written) and numbers keep their literal text, so a
/// payload passes through the API exactly as the saver stored it.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number as its JSON text (`42`, `-1.5e3`), always valid JSON number syntax.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])
    /// A complete JSON value kept as its compact text and written as it is (``JSONFragment``):
    /// how the API passes a stored payload through without building a tree and writing it again.
    case fragment(JSONFragment)

    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }

    public static func int(_ value: Int?) -> JSONValue { value.map { .number(String($0)) } ?? .null }

    public static func double(_ value: Double?) -> JSONValue {
        guard let value, value.isFinite else { return .null }
        return value == value.rounded() && abs(value) < 1e15 ? .number(String(Int(value))) : .number(String(value))
    }

    public static func string(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }

    /// The member named `key` of an object; `nil` for a missing key or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        objectValue?.first(where: { $0.key == key })?.value
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var intValue: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        if case .fragment(let fragment) = self { return fragment.value.arrayValue }
        return nil
    }

    public var objectValue: [JSONMember]? {
        if case .object(let members) = self { return members }
        if case .fragment(let fragment) = self { return fragment.value.objectValue }
        return nil
    }
}

/// The compact text of one complete JSON value, spliced into output by ``JSONWriter`` as it is.
///
/// Only text that is already one valid, compact JSON value may be wrapped: text written by this
/// module's writer, or by `SecretMasking` from a parsed ``JSONTape``.
public struct JSONFragment: Sendable, Equatable {
    public let bytes: [UInt8]

    /// Wraps bytes the caller knows to be one complete, compact JSON value; nothing is checked.
    public init(uncheckedBytes bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The value as a tree, parsed on each call: for the rare reader that looks inside.
    public var value: JSONValue {
        (try? JSONValue.parse(bytes)) ?? .null
    }
}

/// One `"key": value` pair of a JSON object.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(String(value)) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Members in the order written.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(elements.map { JSONMember($0.0, $0.1) })
    }
}
