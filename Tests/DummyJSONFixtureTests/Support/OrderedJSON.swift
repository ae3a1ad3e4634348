import PipelineJSON

/// The fixture's tests read its JSON with the project's one parser (``JSONTape`` through
/// ``JSONValue``): it keeps object keys in document order, so tests can check the key order of
/// DummyJSON users, and rejects anything that is not JSON (for the malformed fault).
typealias JSON = JSONValue

extension JSONValue {
    typealias ParseError = JSONSyntaxError

    /// An object from `(key, value)` pairs, in order.
    static func object(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(pairs.map { JSONMember($0.0, $0.1) })
    }

    /// A number from its text (the value is implied by the text).
    static func number(_ text: String, _: Double) -> JSONValue { .number(text) }

    subscript(_ index: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }

    var keys: [String] { objectValue?.map(\.key) ?? [] }
    var array: [JSONValue]? { arrayValue }
    var string: String? { stringValue }
    var int: Int? { intValue }

    var double: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    var isString: Bool { string != nil }
    var isNumber: Bool { double != nil }
}
