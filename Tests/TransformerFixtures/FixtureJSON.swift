/// A JSON value with ordered object keys, for building test rows and changing them.
public indirect enum FixtureJSON: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number as its exact text (`193.24`).
    case number(String)
    case string(String)
    case array([FixtureJSON])
    case object([(String, FixtureJSON)])

    public static func int(_ value: Int) -> FixtureJSON { .number(String(value)) }

    public static func == (lhs: FixtureJSON, rhs: FixtureJSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.number(a), .number(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The value at a dotted path (`company.department`), or `nil`.
    public subscript(path path: String) -> FixtureJSON? {
        var value: FixtureJSON? = self
        for key in path.split(separator: ".") {
            guard case .object(let members)? = value else { return nil }
            value = members.last(where: { $0.0 == key })?.1
        }
        return value
    }

    /// Replaces (or, when absent, appends) the value at a dotted path.
    public mutating func set(_ path: String, _ newValue: FixtureJSON) {
        var keys = path.split(separator: ".").map(String.init)
        let first = keys.removeFirst()
        guard case .object(var members) = self else { return }
        if let index = members.firstIndex(where: { $0.0 == first }) {
            if keys.isEmpty {
                members[index].1 = newValue
            } else {
                members[index].1.set(keys.joined(separator: "."), newValue)
            }
        } else if keys.isEmpty {
            members.append((first, newValue))
        }
        self = .object(members)
    }

    /// Removes the member at a dotted path.
    public mutating func remove(_ path: String) {
        var keys = path.split(separator: ".").map(String.init)
        let first = keys.removeFirst()
        guard case .object(var members) = self else { return }
        if keys.isEmpty {
            members.removeAll { $0.0 == first }
        } else if let index = members.firstIndex(where: { $0.0 == first }) {
            members[index].1.remove(keys.joined(separator: "."))
        }
        self = .object(members)
    }

    /// Compact JSON, keys in order.
    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    public func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let elements):
            out += "["
            for (i, e) in elements.enumerated() {
                if i > 0 { out += "," }
                e.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { out += "," }
                Self.writeString(k, to: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
