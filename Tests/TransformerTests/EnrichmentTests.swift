import Crypto
import Foundation
import PipelineJSON
import Testing
import TestSupport
import TransformerCore
import TransformerFixtures

/// Valid rows carry every enrichment key of docs/STAGING.md with the right value.
@Suite struct EnrichmentTests {
    static let enrichmentKeys = ["full_name", "email_domain", "age_group", "department_code", "bmi", "bmi_category",
                                 "birth_date", "line", "run_id", "extracted_at", "transformed_at", "record_hash"]

    /// Transforms one user changed by `change` and returns its users.jsonl object.
    func enriched(_ change: (inout JSONValue) -> Void = { _ in }) throws -> [String: Any] {
        var user = DummyUsers.user(0)
        change(&user)
        let run = TransformRun()
        try run.run([user.text])
        let users = try run.users
        if users.count != 1 { throw TestFailure("not valid: \(try run.lines(run.paths.dlq))") }
        return users[0]
    }

    @Test func aValidRowCarriesEveryEnrichmentField() throws {
        let user = DummyUsers.user(5)
        let line = user.text
        let run = TransformRun()
        try run.run([DummyUsers.user(0).text, line])
        let text = try #require(try run.lines(run.paths.users).last)
        let row = try #require(try run.users.last)

        // The upstream keys in their order without `password`, then the enrichment keys in theirs.
        guard case .object(let members) = user else { Issue.record("fixture is not an object"); return }
        #expect(members.count == 28)
        #expect(try JSONValue.parse(text).keys == members.map(\.key).filter { $0 != "password" } + Self.enrichmentKeys)

        let first = try #require(user.string("firstName"))
        let last = try #require(user.string("lastName"))
        #expect(row["full_name"] as? String == "\(first) \(last)")
        #expect(row["email_domain"] as? String == "x.dummyjson.com")
        let age = try #require(row["age"] as? Int)
        let expectedGroup = switch age { case 18...24: "18-24"; case 25...34: "25-34"; case 35...44: "35-44"; default: "45-54" }
        #expect(row["age_group"] as? String == expectedGroup)
        let codes = ["Marketing": "MKT", "Legal": "LEG", "Research and Development": "RND", "Support": "SUP", "Engineering": "ENG",
                     "Human Resources": "HR", "Services": "SRV", "Accounting": "ACC", "Product Management": "PM", "Sales": "SAL",
                     "Training": "TRN", "Business Development": "BD"]
        #expect(row["department_code"] as? String == codes[try #require(user.string("company.department"))])
        guard case .number(let h)? = user[path: "height"], case .number(let w)? = user[path: "weight"],
              let height = Double(h), let weight = Double(w) else { Issue.record("no height/weight"); return }
        let bmi = (weight / (height / 100 * height / 100) * 10).rounded() / 10
        #expect(abs((row["bmi"] as? Double ?? -1) - bmi) < 1e-9)
        #expect(row["bmi_category"] as? String == (bmi < 18.5 ? "underweight" : bmi < 25 ? "normal" : bmi < 30 ? "overweight" : "obese"))
        let birth = try #require(user.string("birthDate")).split(separator: "-").map { Int($0)! }
        #expect(row["birth_date"] as? String == String(format: "%04d-%02d-%02d", birth[0], birth[1], birth[2]))
        #expect(row["line"] as? Int == 2)
        #expect(row["run_id"] as? String == TransformRun.context.runID)
        #expect(row["extracted_at"] as? String == TransformRun.context.extractedAt)
        #expect(row["transformed_at"] as? String == TransformRun.context.transformedAt)
        // The hash of what is stored (the masked row), so it reveals nothing the stored row does not.
        let masked = try #require(try run.masked.last)
        #expect(row["record_hash"] as? String == SHA256.hash(data: Data(masked.utf8)).map { String(format: "%02x", $0) }.joined())
        #expect(row["record_hash"] as? String != SHA256.hash(data: Data(line.utf8)).map { String(format: "%02x", $0) }.joined())
        // Everything else is as received.
        #expect(row["id"] as? Int == 6)
        #expect(row["username"] as? String == user.string("username"))
        #expect((row["company"] as? [String: Any])?["title"] as? String == user.string("company.title"))
    }

    @Test func numbersKeepTheirExactText() throws {
        var user = DummyUsers.user(0)
        user.set("height", .number("180.50"))
        user.set("weight", .number("7.29e1"))
        user.set("address.coordinates.lat", .number("-77.162130"))
        let run = TransformRun()
        try run.run([user.text])
        let text = try #require(try run.lines(run.paths.users).first)
        #expect(text.contains(#""height":180.50,"weight":7.29e1,"#))
        #expect(text.contains(#""lat":-77.162130,"#))
        #expect(try run.masked.first?.contains(#""height":180.50,"weight":7.29e1,"#) == true)
        #expect(try run.users.first?["bmi"] as? Double == 22.4)
    }

    struct BMICase: Sendable, CustomTestStringConvertible {
        var height: JSONValue?
        var weight: JSONValue?
        var bmi: Double?
        var category: String?
        var testDescription: String { "height \(height?.text ?? "missing"), weight \(weight?.text ?? "missing")" }
    }

    static let bmiCases: [BMICase] = [
        BMICase(height: .int(100), weight: .number("18.4"), bmi: 18.4, category: "underweight"),
        BMICase(height: .int(100), weight: .number("18.45"), bmi: 18.5, category: "normal"),  // rounds up to the edge
        BMICase(height: .int(100), weight: .number("18.5"), bmi: 18.5, category: "normal"),
        BMICase(height: .int(100), weight: .number("24.9"), bmi: 24.9, category: "normal"),
        BMICase(height: .int(100), weight: .int(25), bmi: 25.0, category: "overweight"),
        BMICase(height: .int(180), weight: .int(81), bmi: 25.0, category: "overweight"),
        BMICase(height: .int(100), weight: .number("29.9"), bmi: 29.9, category: "overweight"),
        BMICase(height: .int(100), weight: .int(30), bmi: 30.0, category: "obese"),
        BMICase(height: .number("193.24"), weight: .number("63.16"), bmi: 16.9, category: "underweight"),
        BMICase(height: .int(0), weight: .int(70), bmi: nil, category: nil),
        BMICase(height: .int(170), weight: .number("-1"), bmi: nil, category: nil),
        BMICase(height: nil, weight: .int(70), bmi: nil, category: nil),
        BMICase(height: .int(170), weight: nil, bmi: nil, category: nil),
        BMICase(height: .string("170"), weight: .int(70), bmi: nil, category: nil),
        BMICase(height: .null, weight: .int(70), bmi: nil, category: nil),
    ]

    @Test(arguments: bmiCases)
    func bmiAndItsCategory(_ c: BMICase) throws {
        let row = try enriched { user in
            if let height = c.height { user.set("height", height) } else { user.remove("height") }
            if let weight = c.weight { user.set("weight", weight) } else { user.remove("weight") }
        }
        if let bmi = c.bmi {
            #expect(row["bmi"] as? Double == bmi)
            #expect(row["bmi_category"] as? String == c.category)
        } else {
            #expect(row["bmi"] is NSNull)
            #expect(row["bmi_category"] is NSNull)
        }
    }

    @Test func bmiIsWrittenWithOneDecimal() throws {
        var user = DummyUsers.user(0)
        user.set("height", .int(100))
        user.set("weight", .int(25))
        let run = TransformRun()
        try run.run([user.text])
        #expect(try run.lines(run.paths.users).first?.contains(#""bmi":25.0,"bmi_category":"overweight","#) == true)
    }

    @Test(arguments: [
        (18, "18-24"), (24, "18-24"), (25, "25-34"), (34, "25-34"), (35, "35-44"), (44, "35-44"),
        (45, "45-54"), (54, "45-54"), (55, "55-64"), (64, "55-64"), (65, "65+"),
    ])
    func ageGroupEdges(_ age: Int, _ group: String) throws {
        let row = try enriched { $0.set("age", .int(age)) }
        #expect(row["age_group"] as? String == group)
    }

    @Test(arguments: [
        ("1996-5-30", "1996-05-30"), ("2000-12-1", "2000-12-01"), ("1996-05-30", "1996-05-30"), ("1987-1-9", "1987-01-09"),
        ("2000-2-29", "2000-02-29"), ("1999-2-29", nil), ("1900-2-29", nil), ("1996-13-1", nil), ("1996-4-31", nil),
        ("1996-0-10", nil), ("96-5-30", nil), ("1996/5/30", nil), ("1996-5-30T00:00:00Z", nil), ("", nil), ("1996-5", nil),
        ("1996-5-30-1", nil), ("1996--5", nil),
    ] as [(String, String?)])
    func birthDateIsNormalised(_ raw: String, _ expected: String?) throws {
        let row = try enriched { $0.set("birthDate", .string(raw)) }
        if let expected {
            #expect(row["birth_date"] as? String == expected)
        } else {
            #expect(row["birth_date"] is NSNull)
        }
        #expect(row["birthDate"] as? String == raw, "the upstream field is kept as received")
    }

    @Test func birthDateMissingOrNotAString() throws {
        #expect(try enriched { $0.remove("birthDate") }["birth_date"] is NSNull)
        #expect(try enriched { $0.set("birthDate", .int(19960530)) }["birth_date"] is NSNull)
    }

    @Test func departmentsNotInTheTableAreUnknownAndCounted() throws {
        let departments = ["Quantum Computing", "Quantum Computing", "  engineering ", "Astrology"]
        let run = TransformRun()
        let summary = try run.run(departments.enumerated().map { DummyUsers.user($0).setting("company.department", .string($1)).text })
        #expect(try run.users.map { $0["department_code"] as? String } == ["UNKNOWN", "UNKNOWN", "ENG", "UNKNOWN"])
        #expect(summary.unknownDepartment == 3)
        #expect(summary.counts["unknown_department"] == 3)
        #expect(summary.valid == 4)
    }

    @Test func namesAreJoinedTrimmedAndUnescaped() throws {
        #expect(try enriched { $0.set("firstName", .string("  Zoë")); $0.set("lastName", .string("O\"Neil  ")) }["full_name"] as? String == "Zoë O\"Neil")
        let run = TransformRun()
        try run.run([#"{"id":1,"firstName":"Zo\u00eb","lastName":"Smith\t","email":"ZOE@Example.COM","age":30,"company":{"department":"Sales"}}"#])
        let row = try #require(try run.users.first)
        #expect(row["full_name"] as? String == "Zoë Smith")
        #expect(row["email_domain"] as? String == "example.com")
        #expect(row["department_code"] as? String == "SAL")
        #expect(row["bmi"] is NSNull)
        #expect(row["birth_date"] is NSNull)
    }

    @Test func whitespaceInTheLineIsDroppedAndTheRowOtherwiseUnchanged() throws {
        let compact = DummyUsers.user(0).text
        let pretty = try String(decoding: JSONSerialization.data(withJSONObject: JSONSerialization.jsonObject(with: Data(compact.utf8)), options: [.prettyPrinted]), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ")
        let a = TransformRun()
        try a.run([compact])
        let b = TransformRun()
        try b.run([#"  {"id" : 1 , "firstName" : "A", "lastName":"B","email":"a@b.co","age":30,"company":{ "department" : "Sales" } , "tags" : [ 1 , 2 ] }  "#])
        #expect(try b.masked == [#"{"id":1,"firstName":"A","lastName":"B","email":"a@b.co","age":30,"company":{"department":"Sales"},"tags":[1,2]}"#])
        #expect(try b.users.count == 1)
        // A pretty-printed copy (keys reordered by JSONSerialization) is still a valid row.
        let c = TransformRun()
        try c.run([pretty])
        #expect(try c.users.count == 1)
        #expect(try !c.lines(c.paths.rawMasked)[0].contains(" : "))
    }
}
