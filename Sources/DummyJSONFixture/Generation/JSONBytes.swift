import PipelineJSON

/// A growable byte buffer that JSON text is appended to without going through `JSONEncoder`,
/// or even `Array`: raw memory, no reference counting, `memcpy` for words. This is what keeps a
/// page of 100 users well under a millisecond.
struct JSONBytes: ~Copyable {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count: Int
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        self.base = .allocate(capacity: self.capacity)
        self.count = 0
    }

    deinit {
        base.deallocate()
    }

    /// A copy of the bytes written so far.
    var bytes: [UInt8] {
        Array(UnsafeBufferPointer(start: base, count: count))
    }

    var buffer: UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base, count: count)
    }

    mutating func removeAll() {
        count = 0
    }

    @inline(__always)
    mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(to: count + n) }
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inline(__always)
    mutating func raw(_ start: UnsafePointer<UInt8>, _ n: Int) {
        reserve(n)
        JSONBytes.copy(start, to: base + count, n)
        count += n
    }

    /// Most words are short: a plain loop beats a `memcpy` call for them.
    @inline(__always)
    static func copy(_ from: UnsafePointer<UInt8>, to: UnsafeMutablePointer<UInt8>, _ n: Int) {
        if n <= 24 {
            var i = 0
            while i < n {
                to[i] = from[i]
                i += 1
            }
        } else {
            to.update(from: from, count: n)
        }
    }

    @inline(__always)
    mutating func raw(_ s: StaticString) {
        if s.hasPointerRepresentation {
            raw(s.utf8Start, s.utf8CodeUnitCount)
        } else {
            s.withUTF8Buffer { raw($0.baseAddress!, $0.count) }
        }
    }

    @inline(__always)
    mutating func raw(_ w: Word) {
        raw(w.start, w.count)
    }

    mutating func raw(_ b: [UInt8]) {
        b.withUnsafeBufferPointer { if let p = $0.baseAddress { raw(p, $0.count) } }
    }

    /// A word known to need no escaping (all vocabulary words), quoted.
    @inline(__always)
    mutating func string(_ w: Word) {
        reserve(w.count + 2)
        base[count] = 0x22
        JSONBytes.copy(w.start, to: base + count + 1, w.count)
        base[count + 1 + w.count] = 0x22
        count += w.count + 2
    }

    /// Any string, quoted and escaped by the project's one JSON writer.
    mutating func escaped(_ s: String) {
        var text: [UInt8] = []
        text.appendJSONString(s)
        raw(text)
    }

    @inline(__always)
    static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? 0x30 &+ v : 0x57 &+ v  // 'a' - 10
    }

    @inline(__always)
    static func upperAlnum(_ v: UInt8) -> UInt8 {
        v < 26 ? 0x41 &+ v : 0x16 &+ v  // 'A'...'Z', then '0' + (v - 26)
    }

    /// Decimal integer.
    @inline(__always)
    mutating func int(_ value: Int) {
        if value < 0 {
            byte(0x2D)
            unsigned(UInt64(-value))
        } else {
            unsigned(UInt64(value))
        }
    }

    /// `a-b` or `a-b-c` (numbers joined by `separator`): a phone number, a date, an SSN.
    @inline(__always)
    mutating func int(_ a: Int, _ b: Int, _ c: Int? = nil, joinedBy separator: UInt8 = 0x2D) {
        int(a)
        byte(separator)
        int(b)
        if let c {
            byte(separator)
            int(c)
        }
    }

    mutating func unsigned(_ value: UInt64) {
        var digits = 1
        var limit: UInt64 = 10
        while digits < 20, value >= limit {
            digits += 1
            limit = limit &* 10
        }
        padded(value, width: digits)
    }

    /// Zero-padded decimal of exactly `width` digits (value must fit).
    @inline(__always)
    mutating func padded(_ value: UInt64, width: Int) {
        reserve(width)
        var v = value
        var i = count + width - 1
        while i >= count {
            base[i] = 0x30 &+ UInt8(truncatingIfNeeded: v % 10)
            v /= 10
            i -= 1
        }
        count += width
    }

    /// A JSON number `value / 10^decimals`, written the way JavaScript prints it: no trailing
    /// zeros in the fraction and no fraction at all for whole numbers (19320 → `193.2`).
    mutating func decimal(_ value: Int, decimals: Int) {
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        var v = value
        if v < 0 {
            byte(0x2D)
            v = -v
        }
        unsigned(UInt64(v / scale))
        var frac = v % scale
        if frac == 0 { return }
        var width = decimals
        while frac % 10 == 0 {
            frac /= 10
            width -= 1
        }
        byte(0x2E)
        padded(UInt64(frac), width: width)
    }

    /// `count` lower-case hex digits of the low bits of `value`.
    @inline(__always)
    mutating func hex(_ value: UInt64, count n: Int) {
        reserve(n)
        var v = value
        var i = count + n - 1
        while i >= count {
            base[i] = JSONBytes.hexDigit(UInt8(truncatingIfNeeded: v & 0xF))
            v >>= 4
            i -= 1
        }
        count += n
    }
}
