/// Counts `\n` bytes eight at a time: checking a staged file's row count reads every byte of it,
/// and a byte-by-byte loop cost more than the SHA-256 computed over the same bytes.
public enum NewlineCount {
    /// The number of `\n` bytes in `bytes`.
    public static func count(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        let n = bytes.count
        var count = 0
        var i = 0
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let newlines: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
        while n - i >= 8 {
            // A byte of x is zero exactly where the input has a newline; t has its high bit set there.
            let x = base.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ newlines
            let t = ~(((x & low7) &+ low7) | x | low7)
            count += t.nonzeroBitCount
            i += 8
        }
        while i < n {
            if bytes[i] == 0x0A { count += 1 }
            i += 1
        }
        return count
    }
}
