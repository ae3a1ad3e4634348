#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The treatments of the keys a thread has seen lately. Rows of one upstream repeat the same
/// few dozen key names, so a key is normalised and matched against ``SecretFields`` once and then
/// found again by its bytes: two word loads and a compare instead of a pass per rule. Keys of up
/// to 16 bytes are remembered; longer ones are matched every time. Not shared: each worker keeps
/// its own.
public struct SecretKeyCache {
    private struct Slot {
        var length = -1
        var head: UInt64 = 0
        var tail: UInt64 = 0
        var treatment: SecretFields.Treatment?
    }

    private var slots = [Slot](repeating: Slot(), count: 256)

    public init() {}

    /// The treatment of `key` (its raw bytes, without escapes) under `fields`.
    @inline(__always)
    public mutating func treatment(forKey key: UnsafeRawBufferPointer, in fields: SecretFields) -> SecretFields.Treatment? {
        let n = key.count
        guard n > 0, n <= 16 else { return fields.treatment(forKey: key) }
        let head = Self.word(key, from: 0, count: min(n, 8))
        let tail = n > 8 ? Self.word(key, from: n - 8, count: 8) : 0
        let index = Int(truncatingIfNeeded: ((head &* 0x9E37_79B9_7F4A_7C15) ^ tail ^ UInt64(n)) >> 56)
        let slot = slots[index]
        if slot.length == n && slot.head == head && slot.tail == tail { return slot.treatment }
        let treatment = fields.treatment(forKey: key)
        slots[index] = Slot(length: n, head: head, tail: tail, treatment: treatment)
        return treatment
    }

    @inline(__always)
    private static func word(_ bytes: UnsafeRawBufferPointer, from start: Int, count: Int) -> UInt64 {
        if count == 8 { return bytes.loadUnaligned(fromByteOffset: start, as: UInt64.self) }
        var value: UInt64 = 0
        for k in 0..<count { value |= UInt64(bytes[start + k]) << (8 * UInt64(k)) }
        return value
    }
}
