/// SplitMix64: a tiny, fast, well-mixed generator. Each user gets its own stream, started
/// from (seed, index), so user `i` is generated alone without touching users `0..<i`.
struct SplitMix64 {
    var state: UInt64

    init(state: UInt64) {
        self.state = state
    }

    /// The stream of user `index` for `seed`.
    init(seed: UInt64, index: Int) {
        var s = SplitMix64(state: seed ^ 0x5DEE_CE66_D1CE_4E5B)
        let base = s.next()
        self.state = base ^ (UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03)
        _ = self.next()
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<n` (multiply-shift; the bias is far below anything a test could see).
    @inline(__always)
    mutating func below(_ n: Int) -> Int {
        Int(truncatingIfNeeded: ((next() >> 32) &* UInt64(n)) >> 32)
    }

    /// A number in `range`.
    @inline(__always)
    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }
}
