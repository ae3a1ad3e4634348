@testable import DummyJSONFixture
import Testing

/// Every user has DummyJSON's full shape and realistic values.
@Suite struct UserShapeTests {
    static let topLevelKeys = [
        "id", "firstName", "lastName", "maidenName", "age", "gender", "email", "phone", "username", "password",
        "birthDate", "image", "bloodGroup", "height", "weight", "eyeColor", "hair", "ip", "address", "macAddress",
        "university", "bank", "company", "ein", "ssn", "userAgent", "crypto", "role",
    ]
    static let addressKeys = ["address", "city", "state", "stateCode", "postalCode", "coordinates", "country"]
    static let departments: Set = [
        "Marketing", "Legal", "Research and Development", "Support", "Engineering", "Human Resources",
        "Services", "Accounting", "Product Management", "Sales", "Training", "Business Development",
    ]

    /// The 208 users of the default fixture (seed 1, no bad rows), parsed.
    static func defaultUsers() throws -> [JSON] {
        let users = try FixtureUsers(count: 208, seed: 1)
        let page = try JSON.parse(users.pageBytes(PageWindow(total: 208, skip: 0, limit: 0)))
        return try #require(page["users"]?.array)
    }

    func matches(_ value: JSON?, _ pattern: String) throws -> Bool {
        guard let s = value?.string else { return false }
        return try Regex(pattern).wholeMatch(in: s) != nil
    }

    @Test func all28KeysInOrder() throws {
        #expect(Self.topLevelKeys.count == 28)
        #expect(UserField.allCases.map(\.rawValue) == Self.topLevelKeys)
        for user in try Self.defaultUsers() {
            #expect(user.keys == Self.topLevelKeys)
        }
    }

    @Test func nestedKeys() throws {
        for user in try Self.defaultUsers() {
            #expect(user["hair"]?.keys == ["color", "type"])
            #expect(user["address"]?.keys == Self.addressKeys)
            #expect(user["address"]?["coordinates"]?.keys == ["lat", "lng"])
            #expect(user["bank"]?.keys == ["cardExpire", "cardNumber", "cardType", "currency", "iban"])
            #expect(user["company"]?.keys == ["department", "name", "title", "address"])
            #expect(user["company"]?["address"]?.keys == Self.addressKeys)
            #expect(user["company"]?["address"]?["coordinates"]?.keys == ["lat", "lng"])
            #expect(user["crypto"]?.keys == ["coin", "wallet", "network"])
        }
    }

    @Test func all12DepartmentsAppearFor208Users() throws {
        let seen = Set(try Self.defaultUsers().compactMap { $0["company"]?["department"]?.string })
        #expect(seen == Self.departments)
    }

    @Test func birthDateIsUnpaddedAndMatchesAge() throws {
        for user in try Self.defaultUsers() {
            let birthDate = try #require(user["birthDate"]?.string)
            #expect(try matches(user["birthDate"], #"\d{4}-[1-9]\d?-[1-9]\d?"#), "\(birthDate)")
            let parts = birthDate.split(separator: "-").compactMap { Int($0) }
            #expect(parts.count == 3)
            #expect((1...12).contains(parts[1]) && (1...31).contains(parts[2]))
            #expect(parts[0] == 2024 - (user["age"]?.int ?? 0))
        }
    }

    @Test func agesWithin23To46() throws {
        let ages = try Self.defaultUsers().compactMap { $0["age"]?.int }
        #expect(ages.count == 208)
        #expect(ages.allSatisfy { (23...46).contains($0) })
        #expect(Set(ages).count > 15)  // spread, not one value
    }

    @Test func valuesLookLikeTheRealAPI() throws {
        for user in try Self.defaultUsers() {
            let first = try #require(user["firstName"]?.string)
            let last = try #require(user["lastName"]?.string)
            let username = try #require(user["username"]?.string)
            #expect(user["email"]?.string == "\(first.lowercased()).\(last.lowercased())@x.dummyjson.com")
            #expect(username.hasPrefix(first.lowercased() + last.lowercased().prefix(1)))
            #expect(user["password"]?.string == username + "pass")
            #expect(user["image"]?.string == "https://dummyjson.com/icon/\(username)/128")
            #expect(["female", "male"].contains(user["gender"]?.string ?? ""))
            #expect(try matches(user["phone"], #"\+\d{1,3} \d{3}-\d{3}-\d{4}"#))
            #expect(["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"].contains(user["bloodGroup"]?.string ?? ""))
            #expect((150...205).contains(user["height"]?.double ?? 0))
            #expect((45...120).contains(user["weight"]?.double ?? 0))
            #expect(try matches(user["ip"], #"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"#))
            #expect(try matches(user["macAddress"], #"([0-9a-f]{2}:){5}[0-9a-f]{2}"#))
            #expect(try matches(user["address"]?["postalCode"], #"\d{5}"#))
            #expect(try matches(user["address"]?["stateCode"], #"[A-Z]{2}"#))
            #expect((-90...90).contains(user["address"]?["coordinates"]?["lat"]?.double ?? 999))
            #expect((-180...180).contains(user["address"]?["coordinates"]?["lng"]?.double ?? 999))
            #expect(try matches(user["bank"]?["cardExpire"], #"(0[1-9]|1[0-2])/\d{2}"#))
            #expect(try matches(user["bank"]?["cardNumber"], #"[1-9]\d{15}"#))
            #expect(try matches(user["bank"]?["iban"], #"[A-Z]{2}\d{2}[A-Z0-9]{18}"#))
            #expect(try matches(user["bank"]?["currency"], #"[A-Z]{3}"#))
            #expect(try matches(user["ein"], #"\d{3}-\d{3}"#))
            #expect(try matches(user["ssn"], #"\d{3}-\d{3}-\d{3}"#))
            #expect(user["crypto"]?["coin"]?.string == "Bitcoin")
            #expect(try matches(user["crypto"]?["wallet"], #"0x[0-9a-f]{40}"#))
            #expect(user["crypto"]?["network"]?.string == "Ethereum (ERC20)")
            #expect(["admin", "moderator", "user"].contains(user["role"]?.string ?? ""))
            #expect(user["userAgent"]?.string?.hasPrefix("Mozilla/5.0 (") == true)
        }
    }

    @Test func numbersArePrintedLikeJavaScript() {
        func decimal(_ v: Int, _ d: Int) -> String {
            var out = JSONBytes(capacity: 16)
            out.decimal(v, decimals: d)
            return String(decoding: out.bytes, as: UTF8.self)
        }
        #expect(decimal(19324, 2) == "193.24")
        #expect(decimal(19320, 2) == "193.2")
        #expect(decimal(19300, 2) == "193")
        #expect(decimal(-77162130, 6) == "-77.16213")
        #expect(decimal(-5, 6) == "-0.000005")
        #expect(decimal(0, 6) == "0")
    }

    @Test func rolesAreMostlyUsers() throws {
        let roles = try Self.defaultUsers().compactMap { $0["role"]?.string }
        #expect(Set(roles) == ["admin", "moderator", "user"])
        #expect(roles.filter { $0 == "user" }.count > roles.count / 2)
    }

    /// Emails and usernames stay unique past the 10,000 distinct full names.
    @Test func emailsAndUsernamesAreUnique() throws {
        let users = try FixtureUsers(count: 25_000, seed: 3)
        var emails = Set<String>()
        var usernames = Set<String>()
        let page = try JSON.parse(users.pageBytes(PageWindow(total: 25_000, skip: 0, limit: 0), selection: UserFieldSelection([.email, .username])))
        for user in try #require(page["users"]?.array) {
            emails.insert(try #require(user["email"]?.string))
            usernames.insert(try #require(user["username"]?.string))
        }
        #expect(emails.count == 25_000)
        #expect(usernames.count == 25_000)
    }

    @Test func vocabularyNeedsNoEscaping() {
        #expect(Vocabulary.check())
        #expect(Vocabulary.departmentStrings.count == 12)
        #expect(Set(Vocabulary.departmentStrings) == Self.departments)
    }

    @Test func escapedStringsAreValidJSON() throws {
        var out = JSONBytes(capacity: 32)
        out.escaped("a\"b\\c\nd\u{1}é")
        #expect(try JSON.parse(out.bytes) == .string("a\"b\\c\nd\u{1}é"))
    }
}
