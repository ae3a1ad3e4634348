#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading values off a parsed tape. `bytes` is always the line the tape was parsed from.
extension JSONTape {
    /// The key and value tape indices of an object's members, in document order.
    public func members(of object: Int) -> [(key: Int, value: Int)] {
        var out: [(key: Int, value: Int)] = []
        forEachMember(of: object) { out.append(($0, $1)) }
        return out
    }

    /// Calls `body` with the key and value tape index of each member of the object at `object`.
    @inline(__always)
    public func forEachMember(of object: Int, _ body: (_ key: Int, _ value: Int) throws -> Void) rethrows {
        let node = nodes[object]
        var index = object + 1
        for _ in 0..<node.count {
            let value = index + 1
            try body(index, value)
            index = Int(nodes[value].next)
        }
    }

    /// The tape index of the last member of `object` named `name`, or `nil`.
    public func member(_ name: StaticString, of object: Int, in bytes: UnsafeRawBufferPointer) -> Int? {
        var found: Int?
        forEachMember(of: object) { key, value in
            if keyEquals(key, name, in: bytes) { found = value }
        }
        return found
    }

    /// A string node's bytes between its quotes, escapes and all.
    @inline(__always)
    public func content(_ index: Int, in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let node = nodes[index]
        return UnsafeRawBufferPointer(rebasing: bytes[Int(node.start) + 1 ..< Int(node.end) - 1])
    }

    /// A node's exact text in the line.
    @inline(__always)
    public func text(_ index: Int, in bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let node = nodes[index]
        return UnsafeRawBufferPointer(rebasing: bytes[Int(node.start) ..< Int(node.end)])
    }

    /// Whether the string node at `index` decodes to `name`.
    public func keyEquals(_ index: Int, _ name: StaticString, in bytes: UnsafeRawBufferPointer) -> Bool {
        let node = nodes[index]
        if node.flag {
            return decodedString(index, in: bytes) == name.description
        }
        let raw = content(index, in: bytes)
        return raw.count == name.utf8CodeUnitCount && (raw.count == 0 || memcmp(raw.baseAddress!, name.utf8Start, raw.count) == 0)
    }

    /// The decoded value of a string node (escapes resolved; a lone surrogate becomes U+FFFD).
    public func decodedString(_ index: Int, in bytes: UnsafeRawBufferPointer) -> String {
        let raw = content(index, in: bytes)
        guard nodes[index].flag else { return String(decoding: raw, as: UTF8.self) }
        return String(decoding: JSONTape.unescape(raw), as: UTF8.self)
    }

    /// The decoded bytes of a string node.
    public func decodedBytes(_ index: Int, in bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let raw = content(index, in: bytes)
        return nodes[index].flag ? JSONTape.unescape(raw) : Array(raw)
    }

    /// An integer literal's value; `nil` for any other node or one that does not fit an `Int`.
    public func intValue(_ index: Int, in bytes: UnsafeRawBufferPointer) -> Int? {
        let node = nodes[index]
        guard node.kind == .number, node.flag else { return nil }
        var i = Int(node.start)
        let end = Int(node.end)
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var value = 0
        while i < end {
            let digit = Int(bytes[i] &- UInt8(ascii: "0"))
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = sum
            i += 1
        }
        return value
    }

    /// A number node's value as a `Double` (`nil` for other nodes or an infinite value).
    public func doubleValue(_ index: Int, in bytes: UnsafeRawBufferPointer) -> Double? {
        guard nodes[index].kind == .number else { return nil }
        let text = String(decoding: self.text(index, in: bytes), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Resolves the escapes of a string's raw content (already validated by the parser).
    static func unescape(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        let n = raw.count
        func hex4(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = raw[at + k]
                let digit: UInt8 = c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : (c | 0x20) - UInt8(ascii: "a") + 10
                v = v << 4 | UInt32(digit)
            }
            return v
        }
        while i < n {
            let c = raw[i]
            guard c == UInt8(ascii: "\\") else {
                out.append(c)
                i += 1
                continue
            }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(i)
                i += 4
                if (0xD800...0xDBFF).contains(scalar), i + 6 <= n, raw[i] == UInt8(ascii: "\\"), raw[i + 1] == UInt8(ascii: "u") {
                    let low = hex4(i + 2)
                    if (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                let value = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: UTF8.encode(value)!)
            default: out.append(e)  // \" \\ \/
            }
        }
        return out
    }
}
