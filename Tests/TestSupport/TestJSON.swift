import PipelineJSON

/// Test documents are ``JSONValue``s (ordered keys, exact number text), built, read and changed
/// through the helpers below and written by the project's one JSON writer.
extension JSONValue {
    /// An object from `(key, value)` pairs, in order.
    public static func object(_ pairs: [(String, JSONValue)]) -> JSONValue {
        .object(pairs.map { JSONMember($0.0, $0.1) })
    }

    /// A number written as Swift prints `value` (`1.5`, `22.0`), as the stages' writers do.
    public static func decimal(_ value: Double) -> JSONValue { .number("\(value)") }

    public var string: String? { stringValue }
    public var int: Int? { intValue }
    public var array: [JSONValue]? { arrayValue }
    /// The keys of an object, in order; empty for anything else.
    public var keys: [String] { objectValue?.map(\.key) ?? [] }

    public var double: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    public subscript(_ index: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }

    /// The value at a dotted path (`company.department`), or `nil`; the last of repeated keys.
    public subscript(path path: String) -> JSONValue? {
        var value: JSONValue? = self
        for key in path.split(separator: ".") {
            guard let members = value?.objectValue else { return nil }
            value = members.last(where: { $0.key == key })?.value
        }
        return value
    }

    /// Replaces (or, when absent, appends) the value at a dotted path.
    public mutating func set(_ path: String, _ newValue: JSONValue) {
        var keys = path.split(separator: ".").map(String.init)
        let first = keys.removeFirst()
        guard var members = objectValue else { return }
        if let index = members.firstIndex(where: { $0.key == first }) {
            if keys.isEmpty {
                members[index].value = newValue
            } else {
                members[index].value.set(keys.joined(separator: "."), newValue)
            }
        } else if keys.isEmpty {
            members.append(JSONMember(first, newValue))
        }
        self = .object(members)
    }

    /// Removes the member at a dotted path.
    public mutating func remove(_ path: String) {
        var keys = path.split(separator: ".").map(String.init)
        let first = keys.removeFirst()
        guard var members = objectValue else { return }
        if keys.isEmpty {
            members.removeAll { $0.key == first }
        } else if let index = members.firstIndex(where: { $0.key == first }) {
            members[index].value.remove(keys.joined(separator: "."))
        }
        self = .object(members)
    }

    /// A copy with the value at `path` set (see ``set(_:_:)``).
    public func setting(_ path: String, _ newValue: JSONValue) -> JSONValue {
        var copy = self
        copy.set(path, newValue)
        return copy
    }

    /// A copy without the member at `path`.
    public func removing(_ path: String) -> JSONValue {
        var copy = self
        copy.remove(path)
        return copy
    }

    /// Compact JSON, keys in order.
    public var text: String { JSONWriter.string(self) }
}
