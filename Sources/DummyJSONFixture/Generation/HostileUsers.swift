/// What the fixture does to the content of the users it serves, beyond the bad rows: the
/// hostile upstream (`FaultSettings.hostile`) and users whose JSON is invalid
/// (`invalidUTF8Users`, `nanUsers`). Taken from the fault settings with each request.
public struct ContentFaults: Sendable, Equatable {
    /// Plant ``HostileSecrets`` into the users and serve non-object rows and log-injection text
    /// (``HostileKind``). Every page stays valid JSON.
    public var hostile: Bool
    /// Users (by id, from 1) served with a byte that is not UTF-8 inside a string, right after
    /// the planted secret ``HostileSecrets/invalidUTF8``: the page is not valid JSON. Such a
    /// user is always an object (never one of the hostile non-object rows), whatever the
    /// field selection.
    public var invalidUTF8Users: [Int]
    /// Users (by id) served with a `NaN` number right after the planted secret
    /// ``HostileSecrets/nanNumber``: the page is not valid JSON.
    public var nanUsers: [Int]

    public init(hostile: Bool = false, invalidUTF8Users: [Int] = [], nanUsers: [Int] = []) {
        self.hostile = hostile
        self.invalidUTF8Users = invalidUTF8Users
        self.nanUsers = nanUsers
    }

    public static let none = ContentFaults()

    var isNone: Bool { !hostile && invalidUTF8Users.isEmpty && nanUsers.isEmpty }

    func isInvalid(id: Int) -> Bool { invalidUTF8Users.contains(id) || nanUsers.contains(id) }
}

/// What a hostile upstream does to one user. In hostile mode every valid user (not a bad row,
/// nor the user a `duplicateId` row repeats) at index `i` gets `allCases[i % allCases.count]`: most kinds append members to the user object,
/// the last three replace the whole row with valid JSON that is not an object. No planted
/// secret is ever written under a key that `SECRET_FIELDS`' default list does not name, so a
/// pipeline that masks by that list must let none of them out.
public enum HostileKind: String, CaseIterable, Sendable, Codable {
    /// `"SSN"`, `"Password"`, `"pass_word"`, `"PASSWD"`: secret keys in other cases and spellings.
    case keySpellings
    /// `"card_number"`, `"Card-Number"`, `"IBAN"`, `"cryptoWallet"`.
    case cardSpellings
    /// Keys spelled with JSON escapes: `"pass\u0077ord"`, `"\u0073sn"`, `"card\u005fnumber"`; and
    /// `"E-I-N"` whose value is written with every character `\u`-escaped.
    case escapedKeys
    /// `"profile":{"identity":{"ssn":…,"SocialSecurityNumber":…,"credentials":{"password":…}}}`.
    case nested
    /// `"accounts":[{"iban":…},{"cardNumber":…}]`, `"history":[[{"wallet":…}]]`,
    /// `"ledger":[[["pad",{"ssn":…}]]]`.
    case arrays
    /// A second `"ssn"` (`"ssn":"x","ssn":<secret>` after the user's own) and a second `"password"`.
    case duplicateKeys
    /// Secrets that are not strings: `"CARD_NUMBER":<number>`, `"iban":{"value":…,"previous":[…]}`,
    /// `"Ein":[…,{"note":…}]`.
    case nonStringValues
    /// `"Iban"` holding a secret with a quote, a backslash, a slash and non-ASCII characters
    /// (one outside the BMP), so its JSON-escaped form differs from its text.
    case escapedValue
    /// `company.department` and `maidenName` carry newlines, a carriage return and an escape
    /// character followed by ``HostileSecrets/injectedLogLine`` (a forged log line); no secret.
    case logInjection
    /// The row is a JSON string: the secret ``HostileSecrets/stringRow``.
    case stringRow
    /// The row is an array: `["<secret>",{"password":"<secret>"},[["<secret>"]]]`.
    case arrayRow
    /// The row is a number: ``HostileSecrets/numberRow``.
    case numberRow

    /// Whether the row is still a JSON object.
    public var isObject: Bool {
        switch self {
        case .stringRow, .arrayRow, .numberRow: false
        default: true
        }
    }
}

/// The secret values the fixture plants (hostile mode and the invalid-JSON users): fixed,
/// at least 8 characters, and found nowhere else in what the fixture serves. Each string secret
/// starts with `S3cr3t` and its own two-digit number, so its first 8 characters name it alone;
/// the numbers are 16 digits.
public enum HostileSecrets {
    public static let ssnUpper = "S3cr3t01-SSN-upper-Qm7d"
    public static let passwordCapital = "S3cr3t02-Password-Vx3k"
    public static let passWord = "S3cr3t03-pass_word-Lp8s"
    public static let passwdUpper = "S3cr3t04-PASSWD-Hn2w"
    public static let cardNumberSnake = "S3cr3t05-card_number-Tz4c"
    public static let cardNumberKebab = "S3cr3t06-Card-Number-Jr6b"
    public static let ibanUpper = "S3cr3t07-IBAN-Wq9e"
    public static let cryptoWallet = "S3cr3t08-cryptoWallet-Ky5u"
    public static let escapedPasswordKey = "S3cr3t09-escaped-password-key-Gd3m"
    public static let escapedSSNKey = "S3cr3t10-escaped-ssn-key-Bx7p"
    public static let escapedCardKey = "S3cr3t11-escaped-card-key-Nf2h"
    public static let unicodeEscapedValue = "S3cr3t12-unicode-escaped-value-Rc8t"
    public static let nestedSSN = "S3cr3t13-profile-identity-ssn-Uy4a"
    public static let nestedSocialSecurityNumber = "S3cr3t14-profile-identity-socialSecurityNumber-Ew6z"
    public static let nestedPassword = "S3cr3t15-profile-credentials-password-Ol3v"
    public static let arrayIBAN = "S3cr3t16-accounts-iban-Ps5n"
    public static let arrayCardNumber = "S3cr3t17-accounts-cardNumber-Ib9q"
    public static let arrayOfArraysWallet = "S3cr3t18-array-of-arrays-wallet-Ft2x"
    public static let deepArraySSN = "S3cr3t19-deep-arrays-ssn-Zk7g"
    public static let duplicateSSN = "S3cr3t20-duplicate-ssn-Md4j"
    public static let duplicatePassword = "S3cr3t21-duplicate-password-Ay8r"
    /// Written as a JSON number under `"CARD_NUMBER"`.
    public static let numberValue = "7391846205518273"
    public static let objectUnderIBAN = "S3cr3t23-object-under-iban-Cw5l"
    public static let arrayUnderEIN = "S3cr3t24-array-under-ein-Xo6s"
    public static let needsEscaping = "S3cr3t25-qu\"ote\\back/slash-\u{FC}\u{20AC}\u{1F600}-Dv3y"
    public static let stringRow = "S3cr3t26-string-row-Eh9k"
    public static let arrayRow = "S3cr3t27-array-row-Jw4f"
    public static let arrayRowPassword = "S3cr3t28-array-row-password-Sn6c"
    /// A whole row that is this JSON number.
    public static let numberRow = "8264019375546281"
    /// Under `"SSN"` in an ``ContentFaults/invalidUTF8Users`` user, followed by the byte 0xFF.
    public static let invalidUTF8 = "S3cr3t30-invalid-utf8-Gq7b"
    /// Under `"Password"` in a ``ContentFaults/nanUsers`` user, followed by `"balance":NaN`.
    public static let nanNumber = "S3cr3t31-nan-number-Lk2d"

    /// Every planted secret value, as text (the numbers' digits).
    public static let all: [String] = [
        ssnUpper, passwordCapital, passWord, passwdUpper, cardNumberSnake, cardNumberKebab, ibanUpper, cryptoWallet,
        escapedPasswordKey, escapedSSNKey, escapedCardKey, unicodeEscapedValue, nestedSSN, nestedSocialSecurityNumber,
        nestedPassword, arrayIBAN, arrayCardNumber, arrayOfArraysWallet, deepArraySSN, duplicateSSN, duplicatePassword,
        numberValue, objectUnderIBAN, arrayUnderEIN, needsEscaping, stringRow, arrayRow, arrayRowPassword, numberRow,
        invalidUTF8, nanNumber,
    ]

    /// The text a log-injection row tries to start a log line with (after a newline in
    /// `company.department` and in `maidenName`).
    public static let injectedLogLine = "FAKE LOG LINE level=error stage=saver msg=forged"

    static let injectedDepartment = "Sales\n" + injectedLogLine + "\r\n" + injectedLogLine
    static let injectedMaidenName = "Smith\r" + injectedLogLine + "\n\u{1B}[2K" + injectedLogLine + "\u{7}"
}

extension FixtureUsers {
    /// The hostile kind of the user at `index` in hostile mode: nil for a bad row, and for the
    /// user before a `duplicateId` row (which repeats its id, so it must stay that user).
    public func hostileKind(at index: Int) -> HostileKind? {
        guard index >= 0, fault(at: index) == nil, fault(at: index + 1) != .duplicateId else { return nil }
        return HostileKind.allCases[index % HostileKind.allCases.count]
    }

    /// How many users of each hostile kind the first `total` users hold.
    public func hostileCounts(total: Int) -> [HostileKind: Int] {
        var counts: [HostileKind: Int] = [:]
        for index in 0..<max(total, 0) {
            if let kind = hostileKind(at: index) { counts[kind, default: 0] += 1 }
        }
        return counts
    }

    /// Writes the row of a non-object hostile kind.
    func writeHostileRow(_ kind: HostileKind, to out: inout JSONBytes) {
        switch kind {
        case .stringRow:
            out.escaped(HostileSecrets.stringRow)
        case .arrayRow:
            out.byte(0x5B)
            out.escaped(HostileSecrets.arrayRow)
            out.raw(",{\"password\":")
            out.escaped(HostileSecrets.arrayRowPassword)
            out.raw("},[[")
            out.escaped(HostileSecrets.arrayRow)
            out.raw("]]]")
        default:
            out.raw(Array(HostileSecrets.numberRow.utf8))
        }
    }

    /// Writes the members an object hostile kind appends to a user (each preceded by a comma).
    func writeHostileMembers(_ kind: HostileKind, to out: inout JSONBytes) {
        func member(_ key: StaticString, _ value: String, _ out: inout JSONBytes) {
            out.raw(key)
            out.escaped(value)
        }
        switch kind {
        case .keySpellings:
            member(",\"SSN\":", HostileSecrets.ssnUpper, &out)
            member(",\"Password\":", HostileSecrets.passwordCapital, &out)
            member(",\"pass_word\":", HostileSecrets.passWord, &out)
            member(",\"PASSWD\":", HostileSecrets.passwdUpper, &out)
        case .cardSpellings:
            member(",\"card_number\":", HostileSecrets.cardNumberSnake, &out)
            member(",\"Card-Number\":", HostileSecrets.cardNumberKebab, &out)
            member(",\"IBAN\":", HostileSecrets.ibanUpper, &out)
            member(",\"cryptoWallet\":", HostileSecrets.cryptoWallet, &out)
        case .escapedKeys:
            member(",\"pass\\u0077ord\":", HostileSecrets.escapedPasswordKey, &out)
            member(",\"\\u0073sn\":", HostileSecrets.escapedSSNKey, &out)
            member(",\"card\\u005fnumber\":", HostileSecrets.escapedCardKey, &out)
            out.raw(",\"E-I-N\":")
            FixtureUsers.writeUnicodeEscaped(HostileSecrets.unicodeEscapedValue, to: &out)
        case .nested:
            member(",\"profile\":{\"identity\":{\"ssn\":", HostileSecrets.nestedSSN, &out)
            member(",\"SocialSecurityNumber\":", HostileSecrets.nestedSocialSecurityNumber, &out)
            member(",\"credentials\":{\"password\":", HostileSecrets.nestedPassword, &out)
            out.raw("}}}")
        case .arrays:
            member(",\"accounts\":[{\"iban\":", HostileSecrets.arrayIBAN, &out)
            member("},{\"owner\":\"self\",\"cardNumber\":", HostileSecrets.arrayCardNumber, &out)
            member("}],\"history\":[[{\"wallet\":", HostileSecrets.arrayOfArraysWallet, &out)
            member("}]],\"ledger\":[[[\"pad\",{\"ssn\":", HostileSecrets.deepArraySSN, &out)
            out.raw("}]]]")
        case .duplicateKeys:
            member(",\"ssn\":\"x\",\"ssn\":", HostileSecrets.duplicateSSN, &out)
            member(",\"password\":", HostileSecrets.duplicatePassword, &out)
        case .nonStringValues:
            out.raw(",\"CARD_NUMBER\":")
            out.raw(Array(HostileSecrets.numberValue.utf8))
            member(",\"iban\":{\"value\":", HostileSecrets.objectUnderIBAN, &out)
            member(",\"previous\":[", HostileSecrets.objectUnderIBAN, &out)
            member("]},\"Ein\":[", HostileSecrets.arrayUnderEIN, &out)
            member(",{\"note\":", HostileSecrets.arrayUnderEIN, &out)
            out.raw("}]")
        case .escapedValue:
            member(",\"Iban\":", HostileSecrets.needsEscaping, &out)
        case .logInjection, .stringRow, .arrayRow, .numberRow:
            break
        }
    }

    /// The members of an invalid-JSON user, appended last: the planted secret, then the byte
    /// 0xFF inside the same string, or a `NaN` number.
    func writeInvalidMembers(id: Int, _ content: ContentFaults, to out: inout JSONBytes) {
        if content.invalidUTF8Users.contains(id) {
            out.raw(",\"SSN\":\"")
            out.raw(Array(HostileSecrets.invalidUTF8.utf8))
            out.raw([0xFF, 0x22])
        }
        if content.nanUsers.contains(id) {
            out.raw(",\"Password\":")
            out.escaped(HostileSecrets.nanNumber)
            out.raw(",\"balance\":NaN")
        }
    }

    /// `"\u0053\u0033…"`: every UTF-16 unit of `text` as a `\u` escape.
    static func writeUnicodeEscaped(_ text: String, to out: inout JSONBytes) {
        out.byte(0x22)
        for unit in text.utf16 {
            out.raw("\\u")
            out.hex(UInt64(unit), count: 4)
        }
        out.byte(0x22)
    }
}
