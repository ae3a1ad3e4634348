/// The project's one JSON writer: compact JSON appended to a byte buffer.
///
/// Every JSON text the stages write (staged rows, DLQ records, API answers, log lines in JSON)
/// is escaped here, so a value cannot break out of its string however it was spelled upstream.
extension Array where Element == UInt8 {
    @inline(__always)
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        append(contentsOf: bytes)
    }

    @inline(__always)
    public mutating func append(_ text: StaticString) {
        append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends a decimal integer.
    public mutating func appendInt(_ value: Int) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendUInt(value.magnitude)
        } else {
            appendUInt(UInt(value))
        }
    }

    private mutating func appendUInt(_ value: UInt) {
        if value < 10 {
            append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(20 - count)...]))
        }
    }

    /// Appends `text` as a JSON string: quotes, backslashes and control characters escaped,
    /// everything else (non-ASCII included) as UTF-8. A Swift `String` is always valid Unicode,
    /// so the result is always valid JSON.
    public mutating func appendJSONString(_ text: String) {
        var text = text
        text.withUTF8 { appendJSONString(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// Appends bytes as a JSON string. They must be valid UTF-8 (text decoded by ``JSONTape``
    /// or taken from a `String`); anything else goes through ``appendJSONString(_:)``.
    public mutating func appendJSONString(utf8 bytes: UnsafeRawBufferPointer) {
        append(UInt8(ascii: "\""))
        var runStart = 0
        for (i, c) in bytes.enumerated() where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
            append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i]))
            appendEscape(c)
            runStart = i + 1
        }
        append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart...]))
        append(UInt8(ascii: "\""))
    }

    private mutating func appendEscape(_ c: UInt8) {
        append(UInt8(ascii: "\\"))
        switch c {
        case UInt8(ascii: "\""): append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): append(UInt8(ascii: "\\"))
        case 0x08: append(UInt8(ascii: "b"))
        case 0x0C: append(UInt8(ascii: "f"))
        case 0x0A: append(UInt8(ascii: "n"))
        case 0x0D: append(UInt8(ascii: "r"))
        case 0x09: append(UInt8(ascii: "t"))
        default:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(c >> 4)], hex[Int(c & 0xF)]])
        }
    }
}
