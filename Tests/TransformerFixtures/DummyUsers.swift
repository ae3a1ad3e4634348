import Foundation
import PipelineJSON
import TestSupport

/// DummyJSON-shaped users (`GET /users`: all 28 top-level keys, nested `hair`, `address`,
/// `bank`, `company`, `crypto`), generated deterministically: row `index` of a seed is always
/// the same, whatever else is generated.
public enum DummyUsers {
    /// The kinds of bad row the transformer must dead-letter.
    public enum BadKind: String, CaseIterable, Sendable {
        case badEmail, ageOutOfRange, emptyFirstName, emptyDepartment, idNotInteger, duplicateID
        case missingField, wrongType, notJSON, notObject
    }

    public static let departments = [
        "Marketing", "Legal", "Research and Development", "Support", "Engineering", "Human Resources",
        "Services", "Accounting", "Product Management", "Sales", "Training", "Business Development",
    ]

    static let firstNames = ["Emily", "Michael", "Sophia", "James", "Emma", "Olivia", "Alexander", "Ava", "Ethan", "Isabella",
                             "Liam", "Mia", "Noah", "Charlotte", "William", "Amelia", "Benjamin", "Harper", "Lucas", "Evelyn"]
    static let lastNames = ["Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez",
                            "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee"]
    static let cities = ["Phoenix", "Houston", "Washington", "Seattle", "Jacksonville", "San Francisco", "Fort Worth", "Denver"]
    static let states = [("Mississippi", "MS"), ("Alabama", "AL"), ("Connecticut", "CT"), ("Kansas", "KS"), ("Ohio", "OH"), ("Oregon", "OR")]
    static let streets = ["Main Street", "Oak Street", "Pine Street", "Maple Street", "Cedar Street", "Elm Street", "Tenth Street"]
    static let titles = ["Sales Manager", "Research Analyst", "Web Developer", "Accountant", "Support Specialist", "Product Manager"]
    static let companies = ["Dooley, Kozey and Cronin", "Spinka - Dickinson", "Schiller - Zieme", "Yost - Turner", "Kemmer Inc"]
    static let universities = ["University of Wisconsin--Madison", "Ohio State University", "Stanford University", "Pepperdine University"]
    static let cardTypes = ["Diners Club International", "Elo", "Mastercard", "Visa", "Maestro"]
    static let currencies = ["GBP", "USD", "EUR", "CNY", "JPY"]
    static let coins = ["Bitcoin", "Ethereum", "Litecoin"]
    static let eyeColors = ["Green", "Brown", "Gray", "Amber", "Blue", "Violet"]
    static let hairColors = ["Brown", "Black", "Blond", "Red", "Gray"]
    static let hairTypes = ["Curly", "Straight", "Wavy", "Kinky"]
    static let bloodGroups = ["O-", "O+", "A-", "A+", "B-", "B+", "AB-", "AB+"]
    static let agents = [
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.110 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/97.0.4692.99 Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64; rv:95.0) Gecko/20100101 Firefox/95.0",
    ]

    /// A valid user with id `index + 1`.
    public static func user(_ index: Int, seed: UInt64 = 1) -> JSONValue {
        var r = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(index))
        let first = r.pick(firstNames)
        let last = r.pick(lastNames)
        let maiden = r.pick(lastNames)
        let age = r.int(23...46)
        let username = "\(first.lowercased())\(last.prefix(1).lowercased())\(index + 1)"
        let state = r.pick(states)
        let companyState = r.pick(states)
        func address(_ r: inout SplitMix64, _ state: (String, String)) -> JSONValue {
            .object([
                ("address", .string("\(r.int(1...9999)) \(r.pick(streets))")),
                ("city", .string(r.pick(cities))),
                ("state", .string(state.0)),
                ("stateCode", .string(state.1)),
                ("postalCode", .string(String(r.int(10000...99999)))),
                ("coordinates", .object([("lat", .number(r.decimal(-90...90, places: 6))), ("lng", .number(r.decimal(-180...180, places: 6)))])),
                ("country", .string("United States")),
            ])
        }
        return .object([
            ("id", .int(index + 1)),
            ("firstName", .string(first)),
            ("lastName", .string(last)),
            ("maidenName", .string(maiden)),
            ("age", .int(age)),
            ("gender", .string(r.pick(["female", "male"]))),
            ("email", .string("\(first.lowercased()).\(last.lowercased())\(index + 1)@x.dummyjson.com")),
            ("phone", .string("+\(r.int(1...99)) \(r.int(100...999))-\(r.int(100...999))-\(r.int(1000...9999))")),
            ("username", .string(username)),
            ("password", .string(r.token(14, alphabet: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))),
            ("birthDate", .string("\(2024 - age)-\(r.int(1...12))-\(r.int(1...28))")),
            ("image", .string("https://dummyjson.com/icon/\(username)/128")),
            ("bloodGroup", .string(r.pick(bloodGroups))),
            ("height", .number(r.decimal(150...200, places: 2))),
            ("weight", .number(r.decimal(45...110, places: 2))),
            ("eyeColor", .string(r.pick(eyeColors))),
            ("hair", .object([("color", .string(r.pick(hairColors))), ("type", .string(r.pick(hairTypes)))])),
            ("ip", .string("\(r.int(1...254)).\(r.int(0...255)).\(r.int(0...255)).\(r.int(1...254))")),
            ("address", address(&r, state)),
            ("macAddress", .string((0..<6).map { _ in r.token(2, alphabet: "0123456789abcdef") }.joined(separator: ":"))),
            ("university", .string(r.pick(universities))),
            ("bank", .object([
                ("cardExpire", .string(String(format: "%02d/%02d", r.int(1...12), r.int(25...32)))),
                ("cardNumber", .string(r.token(16, alphabet: "0123456789"))),
                ("cardType", .string(r.pick(cardTypes))),
                ("currency", .string(r.pick(currencies))),
                ("iban", .string("GB" + r.token(2, alphabet: "0123456789") + r.token(18, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))),
            ])),
            ("company", .object([
                ("department", .string(r.pick(departments))),
                ("name", .string(r.pick(companies))),
                ("title", .string(r.pick(titles))),
                ("address", address(&r, companyState)),
            ])),
            ("ein", .string("\(r.int(100...999))-\(r.int(100...999))")),
            ("ssn", .string("\(r.int(100...999))-\(r.int(100...999))-\(r.int(100...999))")),
            ("userAgent", .string(r.pick(agents))),
            ("crypto", .object([
                ("coin", .string(r.pick(coins))),
                ("wallet", .string("0x" + r.token(40, alphabet: "0123456789abcdef"))),
                ("network", .string("Ethereum (ERC20)")),
            ])),
            ("role", .string(r.pick(["admin", "moderator", "user"]))),
        ])
    }

    /// Row `index` made bad in the way of `kind`, as a line of `raw.jsonl`.
    public static func badLine(_ kind: BadKind, index: Int, seed: UInt64 = 1) -> String {
        var user = user(index, seed: seed)
        switch kind {
        case .badEmail: user.set("email", .string("not-an-email.dummyjson.com"))
        case .ageOutOfRange: user.set("age", .int(index % 2 == 0 ? 17 : 66))
        case .emptyFirstName: user.set("firstName", .string(""))
        case .emptyDepartment: user.set("company.department", .string(""))
        case .idNotInteger: user.set("id", .string("user-\(index + 1)"))
        case .duplicateID: user.set("id", .int(max(index, 1)))
        case .missingField: user.remove("lastName")
        case .wrongType: user.set("age", .string("\(30 + index % 10)"))
        case .notJSON: return "{\"id\":\(index + 1),\"firstName\":\"Broken\" this is not JSON"
        case .notObject: return "[\(index + 1),\"not\",\"an\",\"object\"]"
        }
        return user.text
    }

    /// Writes `count` rows to `path`, one per line: valid users, except that every `badEvery`-th
    /// row (when given) is bad, cycling through `badKinds`. Returns how many rows are bad.
    @discardableResult
    public static func writeFile(path: String, count: Int, seed: UInt64 = 1, badEvery: Int? = nil,
                                 badKinds: [BadKind] = BadKind.allCases) throws -> Int {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var buffer = ""
        buffer.reserveCapacity(2 << 20)
        var bad = 0
        for index in 0..<count {
            if let badEvery, badEvery > 0, index % badEvery == badEvery - 1 {
                let kind = badKinds[(index / badEvery) % badKinds.count]
                buffer += badLine(kind, index: index, seed: seed)
                bad += 1
            } else {
                buffer += user(index, seed: seed).text
            }
            buffer += "\n"
            if buffer.utf8.count >= 1 << 20 {
                try handle.write(contentsOf: Data(buffer.utf8))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try handle.write(contentsOf: Data(buffer.utf8))
        return bad
    }
}

extension DummyUsers {
    /// Writes `count` valid rows quickly: the rows cycle through `distinct` generated users,
    /// each with a fresh id (`1...count`), so large files cost little to make in a debug build.
    public static func writeRepeatingFile(path: String, count: Int, distinct: Int = 1000, seed: UInt64 = 1) throws {
        let tails: [[UInt8]] = (0..<min(distinct, max(count, 1))).map { index in
            let text = user(index, seed: seed).text
            let prefix = "{\"id\":\(index + 1)"
            precondition(text.hasPrefix(prefix))
            return Array(text.utf8.dropFirst(prefix.utf8.count)) + [0x0A]
        }
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(2 << 20)
        for index in 0..<count {
            buffer.append(contentsOf: "{\"id\":\(index + 1)".utf8)
            buffer.append(contentsOf: tails[index % tails.count])
            if buffer.count >= 1 << 20 {
                try handle.write(contentsOf: Data(buffer))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        try handle.write(contentsOf: Data(buffer))
    }
}

/// The draws the users are made of, from the tests' one generator.
extension SplitMix64 {
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }

    mutating func token(_ length: Int, alphabet: String) -> String {
        let characters = Array(alphabet)
        return String((0..<length).map { _ in characters[int(0...(characters.count - 1))] })
    }

    /// A decimal number's text with `places` digits after the point (trailing zeros dropped, as JSON encoders do).
    mutating func decimal(_ range: ClosedRange<Int>, places: Int) -> String {
        var scale = 1
        for _ in 0..<places { scale *= 10 }
        let units = int((range.lowerBound * scale)...(range.upperBound * scale))
        let sign = units < 0 ? "-" : ""
        let magnitude = abs(units)
        var fraction = String(magnitude % scale)
        fraction = String(repeating: "0", count: places - fraction.count) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return sign + String(magnitude / scale) + (fraction.isEmpty ? "" : "." + fraction)
    }
}
