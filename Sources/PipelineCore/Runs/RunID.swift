import Foundation

/// A run's id: its UTC start time, a dash and 4 random hex digits (`20261122T101500Z-3f9a`).
///
/// Ids sort by time as plain strings, read well in logs and file names, and the random tail
/// keeps two runs started in the same second apart.
public struct RunID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible, LosslessStringConvertible {
    public let rawValue: String

    /// A new id for a run starting at `date`.
    public init(startingAt date: Date = Date(), using generator: inout some RandomNumberGenerator) {
        let suffix = String(format: "%04x", UInt32(UInt16.random(in: .min ... .max, using: &generator)))
        self.rawValue = "\(Self.stamp(date))-\(suffix)"
    }

    public init(startingAt date: Date = Date()) {
        var generator = SystemRandomNumberGenerator()
        self.init(startingAt: date, using: &generator)
    }

    /// Accepts only the exact form, so a path built from an id can never leave its directory.
    public init?(parsing text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 21, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z"), bytes[16] == UInt8(ascii: "-") else { return nil }
        let digits = bytes[0..<8] + bytes[9..<15]
        guard digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        guard bytes[17...].allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        guard Self.parseStamp(String(decoding: bytes[0..<16], as: UTF8.self)) != nil else { return nil }
        self.rawValue = String(text)
    }

    public init?(_ description: String) { self.init(parsing: description) }

    /// The run's start time, to the second.
    public var startedAt: Date { Self.parseStamp(String(rawValue.prefix(16)))! }

    public var description: String { rawValue }

    public static func < (lhs: RunID, rhs: RunID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = RunID(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a run id: \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    private static func stamp(_ date: Date) -> String {
        let c = Calendar.utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    private static func parseStamp(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int { b[range].reduce(0) { $0 * 10 + Int($1 - 0x30) } }
        var c = DateComponents()
        c.year = number(0..<4); c.month = number(4..<6); c.day = number(6..<8)
        c.hour = number(9..<11); c.minute = number(11..<13); c.second = number(13..<15)
        guard (1...12).contains(c.month!), (1...31).contains(c.day!), c.hour! < 24, c.minute! < 60, c.second! < 61 else { return nil }
        return Calendar.utc.date(from: c)
    }
}

extension Calendar {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
