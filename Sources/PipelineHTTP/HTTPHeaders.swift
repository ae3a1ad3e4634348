/// Response header fields in arrival order, looked up case-insensitively.
///
/// HTTP field names are case-insensitive (RFC 9110 §5.1) and servers differ in how they spell
/// them (`Retry-After`, `retry-after`; HTTP/2 sends only lowercase), so lookups must not care.
/// A field may occur more than once; ``values(for:)`` returns every occurrence.
public struct HTTPHeaders: Sendable, Equatable, Sequence, CustomStringConvertible {
    /// One field as received: the name keeps the server's spelling.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    /// All fields, in the order the server sent them.
    public private(set) var fields: [Field] = []

    public init() {}

    public init(_ pairs: [(String, String)]) {
        for (name, value) in pairs { append(name: name, value: value) }
    }

    public mutating func append(name: String, value: String) {
        fields.append(Field(name: name, value: value))
    }

    /// Continues the last field's value (an obsolete folded line, RFC 9110 §5.5); ignored
    /// when there is no field yet to continue.
    mutating func continueLastValue(with text: String) {
        guard !fields.isEmpty else { return }
        fields[fields.count - 1].value += " " + text
    }

    /// The first value of the field `name`, whatever its case; `nil` when absent.
    public subscript(name: String) -> String? {
        let key = name.asciiLowercased
        return fields.first { $0.name.asciiLowercased == key }?.value
    }

    /// Every value of the field `name`, whatever its case, in arrival order.
    public func values(for name: String) -> [String] {
        let key = name.asciiLowercased
        return fields.filter { $0.name.asciiLowercased == key }.map(\.value)
    }

    /// Whether the field `name` occurs at all, whatever its case.
    public func contains(_ name: String) -> Bool { self[name] != nil }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    public var description: String {
        fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
    }
}

extension String {
    /// Lowercases ASCII letters only: field names are ASCII tokens, and this neither depends
    /// on the locale nor changes what non-ASCII bytes compare equal to.
    var asciiLowercased: String {
        String(decoding: utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}
