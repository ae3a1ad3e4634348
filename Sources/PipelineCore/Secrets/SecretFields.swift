#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which object keys hold secrets, and what becomes of their values (`SECRET_FIELDS`).
///
/// A key matches whatever its spelling: names are compared after folding ASCII letters to lower
/// case and dropping `_`, `-`, `.` and spaces, so `cardNumber`, `card_number`, `CARD-NUMBER`
/// and `Card Number` are one name. Keys match at any depth, inside arrays too; escapes in a key
/// are resolved first (`"pass\u0077ord"` is `password`).
///
/// The list is comma-separated entries `name[:treatment]`: the treatment is `last4` (the
/// default: every character but the last four becomes `*`) or `drop` (the member is removed).
/// A `*` at either end of a name matches any prefix or suffix (`*password*` is every key that
/// contains `password`).
public struct SecretFields: Sendable, Equatable {
    public enum Treatment: String, Sendable, Equatable {
        /// Remove the member.
        case drop
        /// Keep only the value's last four characters (docs/STAGING.md, "Secrets").
        case last4
    }

    /// One entry; its name is `names[start..<start + count]`. Plain values, so walking the rules
    /// for every key of every row costs no reference counting.
    struct Rule: Sendable, Equatable {
        enum Position: Sendable, Equatable { case exact, prefix, suffix, anywhere }
        var start: Int
        var count: Int
        var position: Position
        var treatment: Treatment
    }

    /// The default: today's secret fields and their obvious spellings.
    public static let defaultList = "*password*:drop,passwd:drop,ssn,socialSecurityNumber,ein,*cardNumber,iban,*wallet"

    public static let `default` = try! SecretFields(parsing: defaultList)

    private let rules: [Rule]
    /// The normalised names of all rules, one after another.
    private let names: [UInt8]
    /// The shortest normalised key any rule can match: most keys are ruled out by length alone.
    private let shortest: Int

    /// Parses a `SECRET_FIELDS` list; throws a message saying which entry is wrong.
    public init(parsing list: String) throws(SecretFieldsError) {
        var rules: [Rule] = []
        var names: [UInt8] = []
        for entry in list.split(separator: ",") {
            let parts = entry.split(separator: ":", maxSplits: 1).map { $0.trimmingSpaces }
            var name = parts[0]
            guard !name.isEmpty else { continue }
            let treatment: Treatment
            if parts.count == 2 {
                guard let chosen = Treatment(rawValue: parts[1].lowercased()) else {
                    throw SecretFieldsError("entry '\(entry)': the treatment must be drop or last4")
                }
                treatment = chosen
            } else {
                treatment = .last4
            }
            let leading = name.hasPrefix("*")
            let trailing = name.count > 1 && name.hasSuffix("*")
            if leading { name.removeFirst() }
            if trailing { name.removeLast() }
            let normalised = Self.normalise(Array(name.utf8))
            guard !normalised.isEmpty, !normalised.contains(UInt8(ascii: "*")) else {
                throw SecretFieldsError("entry '\(entry)': a name needs letters or digits, with `*` only at its ends")
            }
            let position: Rule.Position = leading && trailing ? .anywhere : leading ? .suffix : trailing ? .prefix : .exact
            rules.append(Rule(start: names.count, count: normalised.count, position: position, treatment: treatment))
            names += normalised
        }
        guard !rules.isEmpty else { throw SecretFieldsError("the list names no field") }
        self.rules = rules
        self.names = names
        self.shortest = rules.map(\.count).min()!
    }

    /// `SECRET_FIELDS`, or ``defaultList`` when unset.
    public init(from env: SettingsReader) throws {
        guard let text = env.value(.secretFields) else {
            self = .default
            return
        }
        do {
            try self.init(parsing: text)
        } catch {
            throw ConfigurationError(variable: "SECRET_FIELDS", value: text,
                                     expected: "comma-separated names, each optionally `:drop` or `:last4` (\(error.reason))")
        }
    }

    /// What becomes of the value under `key` (its decoded UTF-8 bytes); `nil` when it is no secret.
    public func treatment(forKey key: UnsafeRawBufferPointer) -> Treatment? {
        guard key.count >= shortest else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: key.count) { buffer in
            var count = 0
            for byte in key where !Self.isSeparator(byte) {
                buffer[count] = byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
                count += 1
            }
            guard count >= shortest else { return nil }
            let key = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<count])
            return names.withUnsafeBytes { names in
                for rule in rules where rule.matches(key, names: names) { return rule.treatment }
                return nil
            }
        }
    }

    public func treatment(forKey key: String) -> Treatment? {
        var key = key
        return key.withUTF8 { treatment(forKey: UnsafeRawBufferPointer($0)) }
    }

    static func normalise(_ bytes: [UInt8]) -> [UInt8] {
        bytes.compactMap { isSeparator($0) ? nil : ($0 &- UInt8(ascii: "A") < 26 ? $0 | 0x20 : $0) }
    }

    @inline(__always)
    static func isSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: " ")
    }
}

extension SecretFields.Rule {
    @inline(__always)
    func matches(_ key: UnsafeRawBufferPointer, names: UnsafeRawBufferPointer) -> Bool {
        guard key.count >= count else { return false }
        let name = names.baseAddress! + start
        func equal(at offset: Int) -> Bool { memcmp(key.baseAddress! + offset, name, count) == 0 }
        switch position {
        case .exact: return key.count == count && equal(at: 0)
        case .prefix: return equal(at: 0)
        case .suffix: return equal(at: key.count - count)
        case .anywhere:
            // Only where the name's first byte is: most keys hold no candidate at all.
            let first = name.load(as: UInt8.self)
            for offset in 0...(key.count - count) where key[offset] == first && equal(at: offset) { return true }
            return false
        }
    }
}

/// Why a `SECRET_FIELDS` list was refused.
public struct SecretFieldsError: Error, Equatable {
    public var reason: String
    init(_ reason: String) { self.reason = reason }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
