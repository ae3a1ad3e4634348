/// An age X25519 recipient: the public key `age1…` a file is encrypted to.
///
/// Checked here as the age format defines it (Bech32, human-readable part `age`, 32 bytes of
/// key, lowercase) so that a mistyped key stops the saver at start-up with the setting's name,
/// rather than at the first upload with the tool's message. The secret half, the identity
/// `AGE-SECRET-KEY-1…`, is never read by the pipeline.
public struct AgeRecipient: Sendable, Hashable, CustomStringConvertible {
    /// The key as written, `age1` and 58 Bech32 characters.
    public let encoded: String

    public init(_ text: String) throws(AgeError) {
        let key = text.trimmingWhitespace()
        guard !key.uppercased().hasPrefix("AGE-SECRET-KEY-") else {
            // Never echoed: the secret half must not reach a log through an error message.
            throw AgeError.invalidRecipient("AGE-SECRET-KEY-1… (not shown)", reason:
                "this is an identity (a secret key), which must not be given to the pipeline; give its public key, which `age-keygen -y FILE` prints")
        }
        guard key == key.lowercased() || !key.lowercased().hasPrefix("age1") else {
            throw AgeError.invalidRecipient(key, reason: "a recipient is written in lowercase")
        }
        guard key.hasPrefix("age1") else {
            throw AgeError.invalidRecipient(key, reason: "an X25519 recipient starts with age1")
        }
        guard let data = Bech32.decode(key, humanReadablePart: "age") else {
            throw AgeError.invalidRecipient(key, reason: "not valid Bech32 (a character outside the alphabet, or a checksum that does not match)")
        }
        guard data.count == 32 else {
            throw AgeError.invalidRecipient(key, reason: "it holds \(data.count) bytes, an X25519 key 32")
        }
        encoded = key
    }

    public var description: String { encoded }

    /// Recipients separated by commas (a setting's value), or one per line with `#` comments (a
    /// recipients file, as `age -R` reads it). Empty entries are skipped; a repeated key counts
    /// once. At least one is required.
    public static func list(_ text: String, separator: Character) throws(AgeError) -> [AgeRecipient] {
        var recipients: [AgeRecipient] = []
        for entry in text.split(separator: separator, omittingEmptySubsequences: true) {
            let line = entry.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let recipient = try AgeRecipient(line)
            if !recipients.contains(recipient) { recipients.append(recipient) }
        }
        guard !recipients.isEmpty else { throw AgeError.noRecipients }
        return recipients
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}

/// BIP 173 Bech32 (the checksum constant 1, which age uses), decode only.
enum Bech32 {
    private static let alphabet = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    private static let values: [UInt8: UInt8] = Dictionary(uniqueKeysWithValues: alphabet.enumerated().map { ($1, UInt8($0)) })

    /// The bytes of a lowercase Bech32 string with human-readable part `hrp`, or nil.
    static func decode(_ text: String, humanReadablePart hrp: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard let separator = bytes.lastIndex(of: UInt8(ascii: "1")), String(decoding: bytes[..<separator], as: UTF8.self) == hrp else { return nil }
        var fives: [UInt8] = []
        for byte in bytes[(separator + 1)...] {
            guard let value = values[byte] else { return nil }
            fives.append(value)
        }
        guard fives.count >= 6, polymod(expand(hrp) + fives) == 1 else { return nil }
        return regroup(fives.dropLast(6))
    }

    private static func expand(_ hrp: String) -> [UInt8] {
        let bytes = Array(hrp.utf8)
        return bytes.map { $0 >> 5 } + [0] + bytes.map { $0 & 31 }
    }

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var checksum: UInt32 = 1
        for value in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1ff_ffff) << 5 ^ UInt32(value)
            for bit in 0..<5 where (top >> UInt32(bit)) & 1 == 1 { checksum ^= generator[bit] }
        }
        return checksum
    }

    /// Five-bit groups to bytes; nil when the padding is not zero bits shorter than a group.
    private static func regroup(_ fives: ArraySlice<UInt8>) -> [UInt8]? {
        var accumulator: UInt32 = 0
        var bits = 0
        var out: [UInt8] = []
        for value in fives {
            accumulator = accumulator << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        guard bits < 5, accumulator & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
