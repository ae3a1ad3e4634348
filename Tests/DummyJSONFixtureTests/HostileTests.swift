import DummyJSONFixture
import Foundation
import Testing

/// Hostile mode (`hostile`) and the invalid-JSON users (`invalidUTF8Users`, `nanUsers`): pages
/// stay valid JSON in hostile mode, every secret of `HostileSecrets` is planted where its kind
/// says and only under a secret key, and an invalid user makes its page invalid JSON.
@Suite struct HostileTests {
    static let count = 240
    static let users = try! FixtureUsers(count: count, seed: 1, badFraction: 0.05)
    static let hostile = ContentFaults(hostile: true)
    static let everyone = PageWindow(total: count, skip: 0, limit: 0)

    /// Secret names of the default `SECRET_FIELDS` list, compared the pipeline's way: ASCII
    /// lower case, without `_`, `-`, `.` and spaces (docs/STAGING.md, "Secrets").
    static func isSecretKey(_ key: String) -> Bool {
        let name = String(key.lowercased().filter { !"_-. ".contains($0) })
        return ["ssn", "passwd", "socialsecuritynumber", "ein", "iban"].contains(name)
            || name.contains("password") || name.hasSuffix("cardnumber") || name.hasSuffix("wallet")
    }

    /// Every (value text, under a secret key?) in `json`: strings and numbers, with whether a
    /// key on the way to them names a secret; a top-level non-object row counts as "secret" (the
    /// pipeline keeps none of it).
    static func leaves(_ json: JSON, underSecret: Bool, into out: inout [(String, Bool)]) {
        switch json {
        case .object(let members):
            for member in members { leaves(member.value, underSecret: underSecret || isSecretKey(member.key), into: &out) }
        case .array(let items):
            for item in items { leaves(item, underSecret: underSecret, into: &out) }
        case .string(let s): out.append((s, underSecret))
        case .number(let raw): out.append((raw, underSecret))
        case .bool, .null: break
        case .fragment(let fragment): leaves(fragment.value, underSecret: underSecret, into: &out)
        }
    }

    @Test func hostilePagesAreValidJSONAndPlantEverySecretOnlyUnderSecretKeys() throws {
        let bytes = Self.users.pageBytes(Self.everyone, content: Self.hostile)
        // Strict: Foundation's parser refuses invalid UTF-8, NaN and the like.
        #expect(throws: Never.self) { _ = try JSONSerialization.jsonObject(with: Data(bytes)) }
        let rows = try #require(try JSON.parse(bytes)["users"]?.array)
        #expect(rows.count == Self.count)

        var planted = Set<String>()
        var kinds = Set<HostileKind>()
        for (index, row) in rows.enumerated() {
            let plain = try JSON.parse(Self.users.userBytes(at: index))
            guard let kind = Self.users.hostileKind(at: index) else {
                // A bad row, or the user a duplicateId row repeats: as it was, so the bad row is still bad.
                #expect(Self.users.fault(at: index) != nil || Self.users.fault(at: index + 1) == .duplicateId)
                #expect(row == plain, "row \(index) stays as it was")
                continue
            }
            kinds.insert(kind)
            #expect(row.keys.isEmpty == !kind.isObject, "row \(index) (\(kind)) is an object: \(kind.isObject)")
            if kind.isObject, kind != .logInjection {
                // Only members appended after the user's own 28.
                #expect(Array(row.keys.prefix(28)) == plain.keys, "row \(index)")
                #expect(row.keys.count > 28, "row \(index) (\(kind)) plants members")
            }
            var found: [(String, Bool)] = []
            Self.leaves(row, underSecret: !kind.isObject, into: &found)
            for (text, underSecret) in found {
                for secret in HostileSecrets.all where text.contains(secret) {
                    planted.insert(secret)
                    #expect(underSecret, "row \(index) (\(kind)) holds \(secret) outside a secret key")
                }
            }
        }
        #expect(kinds == Set(HostileKind.allCases))
        let expected = Set(HostileSecrets.all).subtracting([HostileSecrets.invalidUTF8, HostileSecrets.nanNumber])
        #expect(planted == expected, "missing: \(expected.subtracting(planted).sorted())")

        // The planted spellings are in the bytes as served.
        let text = String(decoding: bytes, as: UTF8.self)
        for spelling in [#""SSN":"#, #""Password":"#, #""pass_word":"#, #""Card-Number":"#, #""pass\u0077ord":"#,
                         #""\u0073sn":"#, #""ssn":"x","ssn":"#, #""CARD_NUMBER":7391846205518273"#, #""\u0053\u0033"#,
                         #""ledger":[[["pad",{"ssn":"#, ",8264019375546281,", #"qu\"ote\\back/slash"#] {
            let found = text.contains(spelling)
            #expect(found, "\(spelling)")
        }
    }

    @Test func logInjectionRowsCarryNewlinesBeforeTheForgedLine() throws {
        let rows = try #require(try JSON.parse(Self.users.pageBytes(Self.everyone, content: Self.hostile))["users"]?.array)
        let injected = rows.indices.filter { Self.users.hostileKind(at: $0) == .logInjection }
        #expect(!injected.isEmpty)
        for index in injected {
            let department = try #require(rows[index]["company"]?["department"]?.string)
            #expect(department.contains("\n" + HostileSecrets.injectedLogLine))
            #expect(rows[index]["maidenName"]?.string?.contains("\r" + HostileSecrets.injectedLogLine) == true)
            #expect(!HostileSecrets.all.contains { department.contains($0) })
        }
    }

    @Test func withoutHostileModeNothingIsPlanted() throws {
        let text = Self.users.pageJSON(Self.everyone)
        #expect(!text.contains("S3cr3t"))
        #expect(!text.contains(HostileSecrets.numberRow))
        #expect(!text.contains("FAKE LOG LINE"))
    }

    @Test func invalidUsersMakeTheirPageInvalidJSONWithTheSecretInIt() throws {
        for (content, secret) in [(ContentFaults(invalidUTF8Users: [150]), HostileSecrets.invalidUTF8),
                                  (ContentFaults(hostile: true, nanUsers: [150]), HostileSecrets.nanNumber)] {
            let bad = Self.users.pageBytes(PageWindow(total: Self.count, skip: 100, limit: 100), content: content)
            #expect(throws: (any Error).self) { try JSONSerialization.jsonObject(with: Data(bad)) }
            #expect(String(decoding: bad, as: UTF8.self).contains(secret))
            #expect(throws: (any Error).self) { try JSONSerialization.jsonObject(with: Data(Self.users.userBytes(at: 149, content: content))) }
            // The pages without that user are untouched.
            let good = Self.users.pageBytes(PageWindow(total: Self.count, skip: 0, limit: 100), content: content)
            #expect(throws: Never.self) { _ = try JSONSerialization.jsonObject(with: Data(good)) }
            #expect(!String(decoding: good, as: UTF8.self).contains(secret))
        }
        let utf8 = Self.users.userBytes(at: 149, content: ContentFaults(invalidUTF8Users: [150]))
        #expect(String(validating: utf8, as: UTF8.self) == nil)
        let nan = Self.users.userJSON(at: 149, content: ContentFaults(nanUsers: [150]))
        #expect(nan.hasSuffix(#""balance":NaN}"#))
    }

    @Test func controlAPITurnsHostileModeOnAndListsTheSecrets() async throws {
        try await withRouterFixture(FixtureConfiguration(users: Self.count, badFraction: 0.05)) { _, client in
            let (_, off) = try await client.getJSON("/_fixture/hostile")
            #expect(off["enabled"] == .bool(false))
            #expect(off["nonObjectRows"]?.int == 0)
            #expect(!(try await client.get("/users?limit=0")).text.contains("S3cr3t"))

            let patch = try await client.send(.patch, "/_fixture/faults", json: #"{"hostile": true}"#)
            #expect(patch.status == .ok)
            let (_, on) = try await client.getJSON("/_fixture/hostile")
            #expect(on["enabled"] == .bool(true))
            #expect(on["secrets"]?.array?.compactMap(\.string) == HostileSecrets.all)
            #expect(on["injectedLogLine"]?.string == HostileSecrets.injectedLogLine)
            let counts = Self.users.hostileCounts(total: Self.count)
            #expect(on["nonObjectRows"]?.int == counts.filter { !$0.key.isObject }.values.reduce(0, +))
            #expect(on["rowsByKind"]?["stringRow"]?.int == counts[.stringRow])

            let page = try await client.get("/users?limit=0")
            #expect(page.bytes == Self.users.pageBytes(Self.everyone, content: Self.hostile))
            let (_, stats) = try await client.getJSON("/_fixture/stats")
            #expect(stats["injected"]?["hostile"]?.int == 1)

            _ = try await client.send(.patch, "/_fixture/faults", json: #"{"invalidUTF8Users": [3]}"#)
            let single = try await client.get("/users/3")
            #expect(single.bytes == Self.users.userBytes(at: 2, content: ContentFaults(hostile: true, invalidUTF8Users: [3])))
            #expect(String(validating: single.bytes, as: UTF8.self) == nil)
        }
    }
}
