import APICore
import APITestData
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite struct UsersEndpointTests {
    static let userKeys: Set<String> = [
        "id", "run_id", "full_name", "email", "email_domain", "age", "age_group", "department", "department_code", "bmi",
        "bmi_category", "birth_date", "record_hash", "inserted_at", "updated_at", "payload",
    ]

    @Test func listsUsersByIdWithTheirLatestRun() async throws {
        try await SampleFixture.serving { fixture, client in
            let expected = fixture.expectedUsers
            let response = try await client.execute(uri: "/users", method: .get)
            #expect(response.status == .ok)
            #expect(response.totalCount == 12)
            let users = try response.array
            #expect(users.map { $0.int("id")! } == Array(1...12))
            for user in users {
                #expect(Set(user.keys) == Self.userKeys)
                let id = user.int("id")!
                #expect(user.string("run_id") == expected[id]?.runID, "user \(id) was last changed by that run")
                #expect(user.string("record_hash") == expected[id]?.recordHash)
                #expect(user.string("email_domain") == "x.dummyjson.com")
                #expect(user.object("payload")?.int("id") == id)
                #expect(user.object("payload")?.string("full_name") == user.string("full_name"), "the payload is the enriched row")
            }
            #expect(Set(users.compactMap { $0.string("run_id") }).count > 1, "later runs changed some users and left others")
            let unknown = try #require(users.first { $0.int("id") == 11 })
            #expect(unknown.string("department_code") == "UNKNOWN")
        }
    }

    @Test func noPasswordAndOnlyMaskedSecretsLeaveTheAPI() async throws {
        try await SampleFixture.serving { fixture, client in
            var bodies: [Any] = []
            bodies.append(try await client.execute(uri: "/users?limit=500", method: .get).json)
            bodies.append(try await client.execute(uri: "/users/1", method: .get).json)
            for run in fixture.runs {
                bodies.append(try await client.execute(uri: "/etl_runs/\(run.runID)/dlq?limit=500", method: .get).json)
            }
            for body in bodies {
                #expect(!allKeys(body).contains { $0.lowercased().contains("password") })
                let text = String(decoding: try JSONSerialization.data(withJSONObject: body, options: [.fragmentsAllowed]), as: UTF8.self)
                #expect(!text.contains("pass1") && !text.contains("900-590-0") && !text.contains("92897606554"), "no password or unmasked secret")
            }
            let user = try await client.execute(uri: "/users/2", method: .get).object
            let payload = try #require(user.object("payload"))
            #expect(payload.string("ssn") == "*******-002")
            #expect(payload.string("ein") == "***-002")
            #expect(payload.object("bank")?.string("iban") == "********************0002")
            #expect(payload.object("crypto")?.string("wallet")?.hasSuffix("0002") == true)
            #expect(payload.object("crypto")?.string("wallet")?.dropLast(4).allSatisfy { $0 == "*" } == true)
        }
    }

    /// The API masks what it serves once more, with the transformer's list: a row written by a
    /// buggy or older stage, with secrets in other spellings, depths and arrays, leaks none.
    @Test func aRowStoredUnmaskedIsServedMasked() async throws {
        let fixture = try await SampleFixture()
        let leaky = #"{"id":3,"Password":"pw-leak-1","profile":{"SSN":"123-45-6789","cards":[{"card_number":"4111111111111111"}]},"# +
            #""accounts":[[{"IBAN":"DE89370400440532013000"}]],"pass\u0077ord":"pw-leak-2","cryptoWallet":"0xfeedfacecafe1234"}"#
        let pool = try DatabasePool(path: fixture.databasePath)
        try await pool.write { db in
            try db.execute(sql: "UPDATE users SET payload = ? WHERE id = 3", arguments: [leaky])
            try db.execute(sql: "UPDATE dlq_records SET payload = ? WHERE rowid = (SELECT MIN(rowid) FROM dlq_records)", arguments: [leaky])
        }
        try pool.close()
        try await fixture.app().test(.router) { client in
            var texts: [String] = []
            let pages = ["/users/3", "/users?limit=500"] + fixture.runs.map({ "/etl_runs/\($0.runID)/dlq?limit=500" })
            for uri in pages + pages.dropFirst().map({ $0 + "&format=csv" }) {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .ok)
                texts.append(String(buffer: response.body))
            }
            for text in texts {
                for secret in ["pw-leak", "123-45", "41111111", "DE893704", "0xfeedface"] {
                    #expect(!text.contains(secret), "\(secret) served")
                }
            }
            let payload = try #require(try await client.execute(uri: "/users/3", method: .get).object.object("payload"))
            #expect(payload.object("profile")?.string("SSN") == "*******6789")
            #expect(payload.string("cryptoWallet") == "**************1234")
            #expect(payload.keys.contains("Password") == false)
        }
    }

    /// A stored payload is served as its stored text (after the masking splice), not parsed and
    /// written again: escapes and number spellings stay as stored, and a secret in it is still masked.
    @Test func aPayloadIsServedAsItsStoredText() async throws {
        let fixture = try await SampleFixture()
        let stored = #"{"id":3,"note":"caf\u00e9 \/ \"x\"","n":1.50,"ssn":"123-45-6789","e":1E+3}"#
        let served = #"{"id":3,"note":"caf\u00e9 \/ \"x\"","n":1.50,"ssn":"*******6789","e":1E+3}"#
        let pool = try DatabasePool(path: fixture.databasePath)
        try await pool.write { db in
            try db.execute(sql: "UPDATE users SET payload = ? WHERE id = 3", arguments: [stored])
            try db.execute(sql: "UPDATE dlq_records SET payload = ? WHERE rowid = (SELECT MIN(rowid) FROM dlq_records)", arguments: [stored])
        }
        let dlqRun: String = try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT run_id FROM dlq_records WHERE rowid = (SELECT MIN(rowid) FROM dlq_records)")!
        }
        try pool.close()
        try await fixture.app().test(.router) { client in
            for uri in ["/users/3", "/users?limit=500", "/etl_runs/\(dlqRun)/dlq?limit=500"] {
                let text = String(buffer: try await client.execute(uri: uri, method: .get).body)
                #expect(text.contains(#""payload":"# + served), "\(uri): \(text.prefix(300))")
            }
        }
    }

    /// The payload is read as SQLite's bytes: text that is not UTF-8 is not JSON, so it is served
    /// as `null`, never passed through or repaired.
    @Test func aPayloadThatIsNotUTF8IsServedAsNull() async throws {
        let fixture = try await SampleFixture()
        let pool = try DatabasePool(path: fixture.databasePath)
        try await pool.write { db in
            // {"id":3,"note":"<0xFF>"}
            try db.execute(sql: "UPDATE users SET payload = CAST(X'7B226964223A332C226E6F7465223A22FF227D' AS TEXT) WHERE id = 3")
        }
        try pool.close()
        try await fixture.app().test(.router) { client in
            let user = try await client.execute(uri: "/users/3", method: .get).object
            #expect(user.int("id") == 3)
            #expect(user.isNull("payload"))
        }
    }

    @Test func filtersByDepartmentAndRun() async throws {
        try await SampleFixture.serving { fixture, client in
            let expected = fixture.expectedUsers
            let department = "Research and Development"
            let ids = expected.filter { $0.value.department == department }.keys.sorted()
            for encoded in ["Research%20and%20Development", "Research+and+Development"] {
                let response = try await client.execute(uri: "/users?department=\(encoded)", method: .get)
                #expect(try response.array.map { $0.int("id")! } == ids)
                #expect(response.totalCount == ids.count)
            }
            let lastRun = fixture.runs.last { !$0.userLines.isEmpty }!.runID.rawValue
            let changed = expected.filter { $0.value.runID == lastRun }.keys.sorted()
            #expect(!changed.isEmpty)
            let byRun = try await client.execute(uri: "/users?run_id=\(lastRun)", method: .get)
            #expect(try byRun.array.map { $0.int("id")! } == changed)
            let both = try await client.execute(uri: "/users?run_id=\(lastRun)&department=\(GeneratorDepartment.of(changed[0]))", method: .get)
            #expect(try both.array.map { $0.int("id")! } == changed.filter { expected[$0]?.department == expected[changed[0]]?.department })
            let none = try await client.execute(uri: "/users?department=Nowhere", method: .get)
            #expect(try none.array.isEmpty)
            #expect(none.totalCount == 0)
            let page = try await client.execute(uri: "/users?limit=5&offset=10", method: .get)
            #expect(try page.array.map { $0.int("id")! } == [11, 12])
            #expect(page.totalCount == 12)
        }
    }

    @Test(arguments: [
        ("department=", "department"), ("run_id=", "run_id"), ("limit=0", "limit"), ("limit=501", "limit"), ("offset=-5", "offset"),
        ("offset=ten", "offset"),
    ])
    func rejectsBadFilters(query: String, parameter: String) async throws {
        try await SampleFixture.serving(runCount: 1) { _, client in
            let detail = try expectError(try await client.execute(uri: "/users?\(query)", method: .get), .badRequest)
            #expect(detail?.string("parameter") == parameter)
        }
    }

    @Test func oneUserById() async throws {
        try await SampleFixture.serving { _, client in
            let user = try await client.execute(uri: "/users/7", method: .get)
            #expect(user.status == .ok)
            let listed = try await client.execute(uri: "/users?offset=6&limit=1", method: .get).body
            #expect(String(buffer: listed) == "[\(String(buffer: user.body))]", "the same object as in the list")

            for missing in ["/users/999", "/users/0", "/users/-3"] {
                let detail = try expectError(try await client.execute(uri: missing, method: .get), .notFound)
                #expect(detail?["id"] is Int)
            }
            for bad in ["/users/abc", "/users/1.5", "/users/99999999999999999999"] {
                let detail = try expectError(try await client.execute(uri: bad, method: .get), .badRequest)
                #expect(detail?.string("parameter") == "id")
                #expect(detail?.string("in") == "path")
            }
        }
    }
}

/// The department the generator gives a user id, URL-encoded for a query.
enum GeneratorDepartment {
    static func of(_ id: Int) -> String {
        let name = id % 11 == 0 ? SampleRunGenerator.unknownDepartment : SampleRunGenerator.departments[id % SampleRunGenerator.departments.count].name
        return name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
    }
}
