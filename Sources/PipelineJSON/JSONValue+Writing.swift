/// Writes ``JSONValue`` as compact UTF-8 JSON, through the same escaper as every other writer.
public enum JSONWriter {
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        // About what a run or a user takes, so a page grows its buffer only a few times.
        out.reserveCapacity(value.arrayValue.map { 1024 * max(1, $0.count) } ?? 1024)
        write(value, into: &out)
        return out
    }

    public static func string(_ value: JSONValue) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append("null")
        case .bool(let flag): flag ? out.append("true") : out.append("false")
        case .number(let text): out.append(contentsOf: text.utf8)
        case .string(let text): out.appendJSONString(text)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (offset, item) in items.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (offset, member) in members.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                out.appendJSONString(member.key)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .fragment(let fragment): out.append(contentsOf: fragment.bytes)
        }
    }
}

extension JSONValue: CustomStringConvertible {
    /// The value as compact JSON.
    public var description: String { JSONWriter.string(self) }
}
