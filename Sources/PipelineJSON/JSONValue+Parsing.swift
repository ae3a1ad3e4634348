extension JSONValue {
    /// Parses a whole document with ``JSONTape`` (strict RFC 8259) into a value.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSONValue {
        var tape = JSONTape()
        try tape.parse(bytes)
        return JSONValue(tape, 0, in: bytes)
    }

    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buffer in Result { () throws(JSONSyntaxError) in try parse(UnsafeRawBufferPointer(buffer)) } }.get()
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        try bytes.withUnsafeBytes { buffer in Result { () throws(JSONSyntaxError) in try parse(buffer) } }.get()
    }

    /// The subtree of `tape` at `index` as a value (`bytes` is what the tape was parsed from).
    public init(_ tape: JSONTape, _ index: Int, in bytes: UnsafeRawBufferPointer) {
        let node = tape.nodes[index]
        switch node.kind {
        case .null: self = .null
        case .bool: self = .bool(node.flag)
        case .number: self = .number(String(decoding: tape.text(index, in: bytes), as: UTF8.self))
        case .string: self = .string(tape.decodedString(index, in: bytes))
        case .array:
            var items: [JSONValue] = []
            items.reserveCapacity(Int(node.count))
            var element = index + 1
            for _ in 0..<node.count {
                items.append(JSONValue(tape, element, in: bytes))
                element = Int(tape.nodes[element].next)
            }
            self = .array(items)
        case .object:
            var members: [JSONMember] = []
            members.reserveCapacity(Int(node.count))
            tape.forEachMember(of: index) { key, value in
                members.append(JSONMember(tape.decodedString(key, in: bytes), JSONValue(tape, value, in: bytes)))
            }
            self = .object(members)
        }
    }
}
