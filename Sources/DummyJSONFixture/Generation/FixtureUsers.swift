/// The kinds of invalid user the fixture can serve, in the order they are handed out: the j-th
/// bad row (counting from 0) is of kind `allCases[j % 8]`.
public enum BadRowKind: String, CaseIterable, Sendable, Codable {
    /// `email` without an `@` (`emily.johnsonx.dummyjson.com`).
    case badEmail
    /// `age` outside 23...46: 12 or 80 (alternating by the row's index parity: even → 12).
    case ageOutOfRange
    /// `firstName` is `""` (email, username and the rest still use the real name).
    case emptyFirstName
    /// `company.department` is `""`.
    case emptyDepartment
    /// `id` is a string such as `"17a"` (the row's usual id followed by `a`).
    case idNotInteger
    /// `id` repeats the previous user's id (index i carries the id of index i-1).
    case duplicateId
    /// The `email` key is absent (27 keys instead of 28).
    case missingField
    /// `age` is a string spelling the number, e.g. `"twenty-eight"`.
    case wrongType
}

/// One bad row: where it is and what is wrong with it.
public struct BadRow: Sendable, Equatable, Codable {
    public let index: Int
    /// The row's `id` as text, without JSON quotes (`17`, or `17a` for `idNotInteger`, where
    /// the JSON value is a string).
    public let id: String
    public let kind: BadRowKind
}

public struct FixtureConfigurationError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Which users a page holds, with DummyJSON's slicing rules:
/// `skip > 0` drops the first `skip` users (none left when `skip >= total`); then `limit == 0`
/// or a limit past the end keeps the rest, a positive limit keeps that many, and a negative
/// one drops that many from the end (JavaScript's `slice(0, limit)`).
public struct PageWindow: Sendable, Equatable {
    public let start: Int
    public let count: Int
    public private(set) var total: Int
    /// The `skip` echoed in the envelope (the value asked for).
    public let skip: Int

    public init(total: Int, skip: Int, limit: Int) {
        let start = skip > 0 ? min(skip, total) : 0
        let remaining = total - start
        let count: Int
        if limit == 0 || limit > remaining {
            count = remaining
        } else if limit > 0 {
            count = limit
        } else {
            count = max(remaining + limit, 0)
        }
        self.start = start
        self.count = count
        self.total = total
        self.skip = skip
    }

    public var indexes: Range<Int> { start..<(start + count) }

    /// The same users with `reported` as the envelope's `total` (the `reportTotal` fault).
    public func reporting(total reported: Int) -> PageWindow {
        var window = self
        window.total = reported
        return window
    }
}

/// The fixture's users: `count` DummyJSON-shaped users generated on demand from
/// (`seed`, index), so nothing is held in memory and any page costs only its own users.
///
/// User `i` (0-based) normally has `id` i+1. `badFraction` of them (rounded to the nearest
/// whole row) are invalid, spread evenly: index i is bad when `⌊(i+1)·B/N⌋ > ⌊i·B/N⌋`, and the
/// j-th bad row is of kind `BadRowKind.allCases[j % 8]`. The same seed and count give
/// byte-identical JSON on every machine and run.
public struct FixtureUsers: Sendable {
    public let count: Int
    public let seed: UInt64
    public let badFraction: Double
    /// Number of bad rows among `count`.
    public let badCount: Int

    /// Names: a seeded affine bijection maps each index to a (first, last) pair, so the first
    /// 10,000 users all have different full names; later "cycles" add a number to email and
    /// username, which keeps both unique for any count.
    let comboMultiplier: Int
    let comboOffset: Int
    static let comboCount = Vocabulary.firstNames.count * Vocabulary.lastNames.count

    /// Largest supported count (index arithmetic stays inside 64 bits).
    public static let maximumCount = Int(Int32.max)

    public init(count: Int, seed: UInt64 = 1, badFraction: Double = 0) throws {
        guard count >= 0, count <= FixtureUsers.maximumCount else {
            throw FixtureConfigurationError("users must be between 0 and \(FixtureUsers.maximumCount), got \(count)")
        }
        guard badFraction.isFinite, badFraction >= 0, badFraction <= 1 else {
            throw FixtureConfigurationError("bad fraction must be between 0 and 1, got \(badFraction)")
        }
        self.count = count
        self.seed = seed
        self.badFraction = badFraction
        self.badCount = min(count, Int((badFraction * Double(count)).rounded()))

        var rng = SplitMix64(seed: seed, index: -1)
        let m = FixtureUsers.comboCount
        var a = 1 + rng.below(m - 1)
        while gcd(a, m) != 1 { a = a % (m - 1) + 1 }
        self.comboMultiplier = a
        self.comboOffset = rng.below(m)
    }

    // MARK: Bad rows

    /// The kind of bad row at `index`, or nil for a valid user (always nil past `count`, for
    /// the users a total change adds).
    public func fault(at index: Int) -> BadRowKind? {
        guard badCount > 0, index >= 0, index < count else { return nil }
        let before = index * badCount / count
        let after = (index + 1) * badCount / count
        guard after > before else { return nil }
        return BadRowKind.allCases[before % BadRowKind.allCases.count]
    }

    /// Index of the `ordinal`-th bad row (0 ..< badCount).
    public func badIndex(ordinal: Int) -> Int {
        precondition(ordinal >= 0 && ordinal < badCount)
        return ((ordinal + 1) * count + badCount - 1) / badCount - 1
    }

    /// Every bad row, in index order.
    public func badRows() -> [BadRow] {
        (0..<badCount).map { ordinal in
            let index = badIndex(ordinal: ordinal)
            let id = idJSON(at: index).filter { $0 != "\"" }
            return BadRow(index: index, id: id, kind: BadRowKind.allCases[ordinal % BadRowKind.allCases.count])
        }
    }

    /// How many bad rows of each kind.
    public func badCounts() -> [BadRowKind: Int] {
        var counts: [BadRowKind: Int] = [:]
        let kinds = BadRowKind.allCases.count
        for (k, kind) in BadRowKind.allCases.enumerated() {
            counts[kind] = badCount > k ? (badCount - k + kinds - 1) / kinds : 0
        }
        return counts
    }

    // MARK: Ids

    /// The `id` of the user at `index` exactly as it appears in JSON.
    public func idJSON(at index: Int) -> String {
        var out = JSONBytes(capacity: 16)
        writeID(index: index, to: &out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    func writeID(index: Int, to out: inout JSONBytes) {
        switch fault(at: index) {
        case .idNotInteger?:
            out.byte(0x22)
            out.int(index + 1)
            out.raw("a\"")
        case .duplicateId?:
            // Never two duplicates in a row (kinds cycle), and never at index 0 (the first bad
            // row is a bad email), so this recursion is one step deep.
            writeID(index: index - 1, to: &out)
        default:
            out.int(index + 1)
        }
    }

    /// The index `GET /users/{id}` answers with among `total` users, like DummyJSON's
    /// `users.find(u => String(u.id) === id)`: the first user whose id prints as `id`.
    public func index(forID id: String, total: Int) -> Int? {
        let utf8 = Array(id.utf8)
        guard let first = utf8.first, first >= 0x31, first <= 0x39 else { return nil }  // no sign, no leading zero
        var digits = utf8[...]
        var suffixA = false
        if digits.last == 0x61 {  // "17a"
            suffixA = true
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.count <= 12, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let number = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        let index = number - 1
        guard index >= 0, index < total else { return nil }
        let kind = fault(at: index)
        if suffixA {
            return kind == .idNotInteger ? index : nil
        }
        return kind == .idNotInteger || kind == .duplicateId ? nil : index
    }

    // MARK: JSON

    /// One user as JSON text.
    public func userJSON(at index: Int, selection: UserFieldSelection = .all, content: ContentFaults = .none) -> String {
        String(decoding: userBytes(at: index, selection: selection, content: content), as: UTF8.self)
    }

    /// One user as JSON bytes.
    public func userBytes(at index: Int, selection: UserFieldSelection = .all, content: ContentFaults = .none) -> [UInt8] {
        var out = JSONBytes(capacity: 1600)
        writeUser(index: index, selection: selection, content: content, to: &out)
        return out.bytes
    }

    /// A whole `/users` response body: `{"users":[…],"total":T,"skip":S,"limit":L}`.
    public func pageBytes(_ window: PageWindow, selection: UserFieldSelection = .all, content: ContentFaults = .none) -> [UInt8] {
        var out = JSONBytes(capacity: FixtureUsers.pageCapacity(window.count, selection))
        writePage(window, selection: selection, content: content, to: &out)
        return out.bytes
    }

    static func pageCapacity(_ users: Int, _ selection: UserFieldSelection) -> Int {
        64 + users * (selection == .all ? 1500 : 64)
    }

    func writePage(_ window: PageWindow, selection: UserFieldSelection, content: ContentFaults = .none, to out: inout JSONBytes) {
        writePageHead(to: &out)
        writeUsers(window.indexes, selection: selection, first: true, content: content, to: &out)
        writePageTail(window, to: &out)
    }

    public func pageJSON(_ window: PageWindow, selection: UserFieldSelection = .all, content: ContentFaults = .none) -> String {
        String(decoding: pageBytes(window, selection: selection, content: content), as: UTF8.self)
    }

    func writePageHead(to out: inout JSONBytes) {
        out.raw("{\"users\":[")
    }

    func writeUsers(_ indexes: Range<Int>, selection: UserFieldSelection, first: Bool, content: ContentFaults = .none, to out: inout JSONBytes) {
        var needComma = !first
        for index in indexes {
            if needComma { out.byte(0x2C) }
            writeUser(index: index, selection: selection, content: content, to: &out)
            needComma = true
        }
    }

    func writePageTail(_ window: PageWindow, to out: inout JSONBytes) {
        out.raw("],\"total\":")
        out.int(window.total)
        out.raw(",\"skip\":")
        out.int(window.skip)
        out.raw(",\"limit\":")
        out.int(window.count)
        out.byte(0x7D)
    }

    /// Writes user `index` (its fields drawn from its own random stream, in a fixed order,
    /// whatever the selection, so a selected key has the same value as in the full user).
    /// `content` adds what a hostile upstream plants (HostileUsers.swift): a non-object row in
    /// place of the user, or members appended after `role` when every field is selected.
    func writeUser(index: Int, selection sel: UserFieldSelection, content: ContentFaults = .none, to out: inout JSONBytes) {
        let kind = fault(at: index)
        var hostile = content.hostile ? hostileKind(at: index) : nil
        if let row = hostile, !row.isObject {
            // An invalid-JSON user stays an object, whatever its hostile kind.
            guard content.isInvalid(id: index + 1) else {
                writeHostileRow(row, to: &out)
                return
            }
            hostile = nil
        }
        var rng = SplitMix64(seed: seed, index: index)

        // Name: (first, last) from the affine bijection, plus the cycle number.
        let m = FixtureUsers.comboCount
        let cycle = index / m
        let combo = (comboMultiplier * (index % m) + comboOffset) % m
        let firstIdx = combo % Vocabulary.firstNames.count
        let lastIdx = combo / Vocabulary.firstNames.count
        let female = firstIdx < Vocabulary.femaleFirstNameCount

        // Every value is drawn up front, in this order, for every user.
        let maiden = rng.below(Vocabulary.lastNames.count)
        var age = rng.int(in: 23...46)
        let phoneCC = rng.below(Vocabulary.phoneCountryCodes.count)
        let phone1 = rng.int(in: 100...999), phone2 = rng.int(in: 100...999), phone3 = rng.int(in: 1000...9999)
        let birthMonth = rng.int(in: 1...12), birthDay = rng.int(in: 1...28)
        let blood = rng.below(Vocabulary.bloodGroups.count)
        let height = rng.int(in: 15000...20500), weight = rng.int(in: 4500...12000)
        let eye = rng.below(Vocabulary.eyeColors.count)
        let hairColor = rng.below(Vocabulary.hairColors.count), hairType = rng.below(Vocabulary.hairTypes.count)
        let ipBits = rng.next()
        let home = AddressDraw(&rng)
        let mac = rng.next()
        let university = rng.below(Vocabulary.universities.count)
        let expMonth = rng.int(in: 1...12), expYear = rng.int(in: 24...32)
        let cardNumber = 1_000_000_000_000_000 &+ rng.next() % 9_000_000_000_000_000
        let cardType = rng.below(Vocabulary.cardTypes.count), currency = rng.below(Vocabulary.currencies.count)
        let ibanCountry = rng.next(), ibanCheck = rng.int(in: 10...99), iban1 = rng.next(), iban2 = rng.next()
        let department = rng.below(Vocabulary.departments.count)
        let companyPattern = rng.below(6)
        let company1 = rng.below(Vocabulary.lastNames.count), company2 = rng.below(Vocabulary.lastNames.count),
            company3 = rng.below(Vocabulary.lastNames.count)
        let title = rng.below(Vocabulary.titles.count)
        let work = AddressDraw(&rng)
        let ein1 = rng.int(in: 100...999), ein2 = rng.int(in: 100...999)
        let ssn1 = rng.int(in: 100...999), ssn2 = rng.int(in: 100...999), ssn3 = rng.int(in: 100...999)
        let agent = rng.below(Vocabulary.userAgents.count)
        let wallet1 = rng.next(), wallet2 = rng.next(), wallet3 = rng.next()
        let roleDraw = rng.below(100)

        if kind == .ageOutOfRange { age = index % 2 == 0 ? 12 : 80 }

        var first = true
        @inline(__always) func key(_ k: StaticString, _ out: inout JSONBytes) {
            if first { first = false } else { out.byte(0x2C) }
            out.raw(k)
        }

        out.byte(0x7B)
        if sel.contains(.id) {
            key("\"id\":", &out)
            writeID(index: index, to: &out)
        }
        if sel.contains(.firstName) {
            key("\"firstName\":", &out)
            if kind == .emptyFirstName { out.raw("\"\"") } else { out.string(Vocabulary.firstNames[firstIdx]) }
        }
        if sel.contains(.lastName) {
            key("\"lastName\":", &out)
            out.string(Vocabulary.lastNames[lastIdx])
        }
        if sel.contains(.maidenName) {
            key("\"maidenName\":", &out)
            if hostile == .logInjection {
                out.escaped(HostileSecrets.injectedMaidenName)
            } else {
                out.string(Vocabulary.lastNames[maiden])
            }
        }
        if sel.contains(.age) {
            key("\"age\":", &out)
            if kind == .wrongType {
                out.byte(0x22)
                out.raw(Array(Vocabulary.spelled(age).utf8))
                out.byte(0x22)
            } else {
                out.int(age)
            }
        }
        if sel.contains(.gender) {
            key("\"gender\":", &out)
            if female { out.raw("\"female\"") } else { out.raw("\"male\"") }
        }
        if sel.contains(.email), kind != .missingField {
            key("\"email\":\"", &out)
            out.raw(Vocabulary.firstNamesLower[firstIdx])
            out.byte(0x2E)
            out.raw(Vocabulary.lastNamesLower[lastIdx])
            if cycle > 0 { out.int(cycle + 1) }
            if kind == .badEmail { out.raw("x.dummyjson.com\"") } else { out.raw("@x.dummyjson.com\"") }
        }
        if sel.contains(.phone) {
            key("\"phone\":\"+", &out)
            out.raw(Vocabulary.phoneCountryCodes[phoneCC])
            out.byte(0x20)
            out.int(phone1, phone2, phone3)
            out.byte(0x22)
        }
        if sel.contains(.username) {
            key("\"username\":\"", &out)
            writeUsername(firstIdx: firstIdx, lastIdx: lastIdx, cycle: cycle, to: &out)
            out.byte(0x22)
        }
        if sel.contains(.password) {
            key("\"password\":\"", &out)
            writeUsername(firstIdx: firstIdx, lastIdx: lastIdx, cycle: cycle, to: &out)
            out.raw("pass\"")
        }
        if sel.contains(.birthDate) {
            key("\"birthDate\":\"", &out)
            out.int(FixtureUsers.referenceYear - age, birthMonth, birthDay)
            out.byte(0x22)
        }
        if sel.contains(.image) {
            key("\"image\":\"https://dummyjson.com/icon/", &out)
            writeUsername(firstIdx: firstIdx, lastIdx: lastIdx, cycle: cycle, to: &out)
            out.raw("/128\"")
        }
        if sel.contains(.bloodGroup) {
            key("\"bloodGroup\":", &out)
            out.string(Vocabulary.bloodGroups[blood])
        }
        if sel.contains(.height) {
            key("\"height\":", &out)
            out.decimal(height, decimals: 2)
        }
        if sel.contains(.weight) {
            key("\"weight\":", &out)
            out.decimal(weight, decimals: 2)
        }
        if sel.contains(.eyeColor) {
            key("\"eyeColor\":", &out)
            out.string(Vocabulary.eyeColors[eye])
        }
        if sel.contains(.hair) {
            key("\"hair\":{\"color\":", &out)
            out.string(Vocabulary.hairColors[hairColor])
            out.raw(",\"type\":")
            out.string(Vocabulary.hairTypes[hairType])
            out.byte(0x7D)
        }
        if sel.contains(.ip) {
            key("\"ip\":\"", &out)
            out.int(1 + Int(ipBits & 0xFF) % 223, Int((ipBits >> 8) & 0xFF), joinedBy: 0x2E)
            out.byte(0x2E)
            out.int(Int((ipBits >> 16) & 0xFF), Int((ipBits >> 24) & 0xFF), joinedBy: 0x2E)
            out.byte(0x22)
        }
        if sel.contains(.address) {
            key("\"address\":", &out)
            home.write(to: &out)
        }
        if sel.contains(.macAddress) {
            key("\"macAddress\":\"", &out)
            for octet in 0..<6 {
                if octet > 0 { out.byte(0x3A) }
                out.hex(mac >> UInt64(8 * octet), count: 2)
            }
            out.byte(0x22)
        }
        if sel.contains(.university) {
            key("\"university\":", &out)
            out.string(Vocabulary.universities[university])
        }
        if sel.contains(.bank) {
            key("\"bank\":{\"cardExpire\":\"", &out)
            out.padded(UInt64(expMonth), width: 2)
            out.byte(0x2F)
            out.padded(UInt64(expYear), width: 2)
            out.raw("\",\"cardNumber\":\"")
            out.unsigned(cardNumber)
            out.raw("\",\"cardType\":")
            out.string(Vocabulary.cardTypes[cardType])
            out.raw(",\"currency\":")
            out.string(Vocabulary.currencies[currency])
            out.raw(",\"iban\":\"")
            out.byte(0x41 &+ UInt8(ibanCountry % 26))
            out.byte(0x41 &+ UInt8((ibanCountry / 26) % 26))
            out.int(ibanCheck)
            for half in 0..<2 {
                var bits = half == 0 ? iban1 : iban2
                for _ in 0..<9 {
                    out.byte(JSONBytes.upperAlnum(UInt8(truncatingIfNeeded: bits % 36)))
                    bits /= 36
                }
            }
            out.raw("\"}")
        }
        if sel.contains(.company) {
            key("\"company\":{\"department\":", &out)
            if kind == .emptyDepartment {
                out.raw("\"\"")
            } else if hostile == .logInjection {
                out.escaped(HostileSecrets.injectedDepartment)
            } else {
                out.string(Vocabulary.departments[department])
            }
            out.raw(",\"name\":\"")
            let n1 = Vocabulary.lastNames[company1], n2 = Vocabulary.lastNames[company2], n3 = Vocabulary.lastNames[company3]
            switch companyPattern {
            case 0:
                out.raw(n1); out.raw(", "); out.raw(n2); out.raw(" and "); out.raw(n3)
            case 1:
                out.raw(n1); out.raw(" - "); out.raw(n2)
            case 2:
                out.raw(n1); out.raw(" Inc")
            case 3:
                out.raw(n1); out.raw(" LLC")
            case 4:
                out.raw(n1); out.raw(" Group")
            default:
                out.raw(n1); out.raw(" and Sons")
            }
            out.raw("\",\"title\":")
            out.string(Vocabulary.titles[title])
            out.raw(",\"address\":")
            work.write(to: &out)
            out.byte(0x7D)
        }
        if sel.contains(.ein) {
            key("\"ein\":\"", &out)
            out.int(ein1, ein2)
            out.byte(0x22)
        }
        if sel.contains(.ssn) {
            key("\"ssn\":\"", &out)
            out.int(ssn1, ssn2, ssn3)
            out.byte(0x22)
        }
        if sel.contains(.userAgent) {
            key("\"userAgent\":", &out)
            out.string(Vocabulary.userAgents[agent])
        }
        if sel.contains(.crypto) {
            key("\"crypto\":{\"coin\":\"Bitcoin\",\"wallet\":\"0x", &out)
            out.hex(wallet1, count: 16)
            out.hex(wallet2, count: 16)
            out.hex(wallet3, count: 8)
            out.raw("\",\"network\":\"Ethereum (ERC20)\"}")
        }
        if sel.contains(.role) {
            key("\"role\":", &out)
            if roleDraw < 5 {
                out.raw("\"admin\"")
            } else if roleDraw < 20 {
                out.raw("\"moderator\"")
            } else {
                out.raw("\"user\"")
            }
        }
        if !content.isNone {
            if let hostile, sel == .all { writeHostileMembers(hostile, to: &out) }
            writeInvalidMembers(id: index + 1, content, to: &out)
        }
        out.byte(0x7D)
    }

    /// birthDate year = referenceYear - age (the real data is consistent with 2024).
    static let referenceYear = 2024

    /// `emilys`: lower-case first name and last-name initial, then a number when needed to keep
    /// it unique (another last name with the same initial, or a later name cycle).
    @inline(__always)
    func writeUsername(firstIdx: Int, lastIdx: Int, cycle: Int, to out: inout JSONBytes) {
        out.raw(Vocabulary.firstNamesLower[firstIdx])
        let (initial, rank) = Vocabulary.lastNameInitialRank[lastIdx]
        out.byte(initial)
        let n = cycle * Vocabulary.maxInitialRank + rank
        if n > 0 { out.int(n + 1) }
    }
}

/// An address's random parts, drawn in a fixed order.
struct AddressDraw {
    let number: Int, street: Int, city: Int, state: Int, postal: Int, lat: Int, lng: Int

    init(_ rng: inout SplitMix64) {
        number = rng.int(in: 1...9999)
        street = rng.below(Vocabulary.streetNames.count)
        city = rng.below(Vocabulary.cities.count)
        state = rng.below(Vocabulary.states.count)
        postal = rng.int(in: 10000...99999)
        lat = rng.int(in: -90_000_000...90_000_000)
        lng = rng.int(in: -180_000_000...180_000_000)
    }

    func write(to out: inout JSONBytes) {
        out.raw("{\"address\":\"")
        out.int(number)
        out.byte(0x20)
        out.raw(Vocabulary.streetNames[street])
        out.raw("\",\"city\":")
        out.string(Vocabulary.cities[city])
        out.raw(",\"state\":")
        out.string(Vocabulary.states[state])
        out.raw(",\"stateCode\":")
        out.string(Vocabulary.stateCodes[state])
        out.raw(",\"postalCode\":\"")
        out.int(postal)
        out.raw("\",\"coordinates\":{\"lat\":")
        out.decimal(lat, decimals: 6)
        out.raw(",\"lng\":")
        out.decimal(lng, decimals: 6)
        out.raw("},\"country\":\"United States\"}")
    }
}

func gcd(_ a: Int, _ b: Int) -> Int {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}
