import DummyJSONFixture
import Testing

/// `--bad-fraction`: exactly that share of rows is invalid, each in the way its kind says, and
/// the public API tells which.
@Suite struct BadRowTests {
    /// What is wrong with a parsed user, judged the way a validator would; `previousID` is the
    /// id of the row before it.
    static func problems(_ user: JSON, previousID: JSON?) -> [BadRowKind] {
        var found: [BadRowKind] = []
        if let email = user["email"] {
            if !(email.string ?? "").contains("@") { found.append(.badEmail) }
        } else {
            found.append(.missingField)
        }
        if let age = user["age"] {
            if let n = age.int {
                if !(23...46).contains(n) { found.append(.ageOutOfRange) }
            } else {
                found.append(.wrongType)
            }
        }
        if user["firstName"]?.string == "" { found.append(.emptyFirstName) }
        if user["company"]?["department"]?.string == "" { found.append(.emptyDepartment) }
        if user["id"]?.int == nil { found.append(.idNotInteger) }
        if let previousID, user["id"] == previousID { found.append(.duplicateId) }
        return found
    }

    @Test func exactCountForAFractionOf1000() throws {
        let users = try FixtureUsers(count: 1_000, seed: 1, badFraction: 0.05)
        #expect(users.badCount == 50)
        let bad = (0..<1_000).filter { users.fault(at: $0) != nil }
        #expect(bad.count == 50)
        #expect(users.badRows().map(\.index) == bad)
        #expect(users.badRows().map(\.kind) == bad.map { users.fault(at: $0)! })
        #expect(users.badCounts().values.reduce(0, +) == 50)
        for kind in BadRowKind.allCases {
            #expect(users.badCounts()[kind] == bad.filter { users.fault(at: $0) == kind }.count)
        }
    }

    @Test(arguments: [0.0, 0.001, 0.013, 0.05, 0.25, 0.5, 1.0])
    func countIsTheRoundedFraction(fraction: Double) throws {
        let users = try FixtureUsers(count: 1_000, seed: 9, badFraction: fraction)
        let expected = Int((fraction * 1_000).rounded())
        #expect(users.badCount == expected)
        #expect((0..<1_000).filter { users.fault(at: $0) != nil }.count == expected)
    }

    @Test func everyKindIsPresentAndActuallyInvalid() throws {
        let users = try FixtureUsers(count: 1_000, seed: 1, badFraction: 0.05)
        let page = try JSON.parse(users.pageBytes(PageWindow(total: 1_000, skip: 0, limit: 0)))
        let rows = try #require(page["users"]?.array)
        #expect(rows.count == 1_000)
        var kindsSeen = Set<BadRowKind>()
        for (index, user) in rows.enumerated() {
            let expected = users.fault(at: index)
            let found = Self.problems(user, previousID: index > 0 ? rows[index - 1]["id"] : nil)
            #expect(found == (expected.map { [$0] } ?? []), "row \(index): expected \(String(describing: expected)), found \(found)")
            if let expected { kindsSeen.insert(expected) }
        }
        #expect(kindsSeen == Set(BadRowKind.allCases))
    }

    @Test func eachKindLooksAsDocumented() throws {
        let users = try FixtureUsers(count: 1_000, seed: 1, badFraction: 0.05)
        for row in users.badRows() {
            let user = try JSON.parse(users.userBytes(at: row.index))
            switch row.kind {
            case .idNotInteger:
                #expect(user["id"] == .string("\(row.index + 1)a"))
                #expect(row.id == "\(row.index + 1)a")
                #expect(users.idJSON(at: row.index) == "\"\(row.index + 1)a\"")
            case .duplicateId:
                #expect(user["id"]?.int == row.index)  // the previous user's id
                #expect(users.idJSON(at: row.index) == users.idJSON(at: row.index - 1))
            case .missingField:
                #expect(user["email"] == nil)
                #expect(user.keys.count == 27)
            case .wrongType:
                #expect(user["age"]?.string?.isEmpty == false)
                #expect(user["age"]?.string?.allSatisfy { $0.isLetter || $0 == "-" } == true)
            case .ageOutOfRange:
                #expect(user["age"]?.int == 12 || user["age"]?.int == 80)
            case .badEmail:
                #expect(user["email"]?.string?.hasSuffix("x.dummyjson.com") == true)
            case .emptyFirstName:
                #expect(user["firstName"] == .string(""))
                #expect(user["lastName"]?.string?.isEmpty == false)
            case .emptyDepartment:
                #expect(user["company"]?["department"] == .string(""))
            }
        }
    }

    @Test func kindsCycleInOrderAndTheFirstRowIsNeverADuplicate() throws {
        let all = try FixtureUsers(count: 40, seed: 1, badFraction: 1)
        #expect((0..<40).map { all.fault(at: $0)! } == (0..<40).map { BadRowKind.allCases[$0 % 8] })
        #expect(all.fault(at: 0) == .badEmail)
        // a duplicate copies whatever the previous id is, even a string one
        #expect(all.idJSON(at: 5) == all.idJSON(at: 4))
        #expect(all.idJSON(at: 4) == "\"5a\"")
    }

    @Test func noBadRowsByDefault() throws {
        let users = try FixtureUsers(count: 208)
        #expect(users.badCount == 0)
        #expect((0..<208).allSatisfy { users.fault(at: $0) == nil })
    }

    @Test func badRowsAreServedAndLookedUpByTheirIDs() async throws {
        let config = FixtureConfiguration(users: 1_000, badFraction: 0.05)
        try await withRouterFixture(config) { server, client in
            let (_, listed) = try await client.getJSON("/_fixture/bad-rows")
            let rows = try #require(listed.array)
            #expect(rows.count == 50)
            #expect(rows.first?["index"]?.int == server.users.badRows().first?.index)

            let notInteger = try #require(server.users.badRows().first { $0.kind == .idNotInteger })
            let (found, user) = try await client.getJSON("/users/\(notInteger.id)")
            #expect(found.status == .ok)
            #expect(user["id"] == .string(notInteger.id))
            // its plain number belongs to nobody
            #expect(try await client.get("/users/\(notInteger.index + 1)").status == .notFound)

            // a duplicated id finds the first user carrying it, like Array.find
            let duplicate = try #require(server.users.badRows().first { $0.kind == .duplicateId })
            let (_, first) = try await client.getJSON("/users/\(duplicate.index)")
            #expect(first == (try JSON.parse(server.users.userBytes(at: duplicate.index - 1))))

            let (_, info) = try await client.getJSON("/_fixture/info")
            #expect(info["badCount"]?.int == 50)
            #expect(info["users"]?.int == 1_000)
            #expect(info["badByKind"]?["duplicateId"]?.int == server.users.badCounts()[.duplicateId])
        }
    }

    @Test func invalidFractionsAreRejected() {
        #expect(throws: FixtureConfigurationError.self) { try FixtureUsers(count: 10, badFraction: 1.5) }
        #expect(throws: FixtureConfigurationError.self) { try FixtureUsers(count: 10, badFraction: -0.1) }
        #expect(throws: FixtureConfigurationError.self) { try FixtureUsers(count: -1) }
    }
}
