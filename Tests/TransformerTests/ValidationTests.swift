import Crypto
import Foundation
import PipelineCore
import PipelineJSON
import Testing
import TestSupport
import TransformerCore
import TransformerFixtures

/// Each kind of bad row lands in `dlq.jsonl` with the rules it breaks, and never stops the run.
@Suite struct ValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// The bad line; it is line 2 of raw.jsonl, between two valid users (ids 1 and 3).
        var line: String
        var rules: [String]
        /// What the extractor recorded for the line: the id it repeats.
        var repeats: [RepeatedID] = []
        var testDescription: String { name }

        init(_ name: String, _ rules: [String], repeating id: Int? = nil, _ change: (inout JSONValue) -> Void) {
            var user = DummyUsers.user(1)
            change(&user)
            self.name = name
            self.line = user.text
            self.rules = rules
            self.repeats = id.map { [RepeatedID(line: 2, id: $0)] } ?? []
        }

        init(_ name: String, _ rules: [String], line: String) {
            self.name = name
            self.line = line
            self.rules = rules
        }
    }

    static let cases: [Case] = [
        // The kinds of bad row the fixture upstream serves.
        Case("bad email", ["email.email_format"], line: DummyUsers.badLine(.badEmail, index: 1)),
        Case("age below AGE_MIN", ["age.range"]) { $0.set("age", .int(17)) },
        Case("age above AGE_MAX", ["age.range"]) { $0.set("age", .int(66)) },
        Case("empty firstName", ["firstName.required"], line: DummyUsers.badLine(.emptyFirstName, index: 1)),
        Case("empty department", ["company.department.required"], line: DummyUsers.badLine(.emptyDepartment, index: 1)),
        Case("id not an integer", ["id.positive_integer"], line: DummyUsers.badLine(.idNotInteger, index: 1)),
        Case("duplicate id", ["id.duplicate"], repeating: 1) { $0.set("id", .int(1)) },
        Case("missing field", ["lastName.required"], line: DummyUsers.badLine(.missingField, index: 1)),
        Case("wrong type", ["age.integer"], line: DummyUsers.badLine(.wrongType, index: 1)),
        Case("not JSON", ["row.not_object"], line: DummyUsers.badLine(.notJSON, index: 1)),
        Case("not an object", ["row.not_object"], line: DummyUsers.badLine(.notObject, index: 1)),
        // Edges of each rule.
        Case("id zero", ["id.positive_integer"]) { $0.set("id", .int(0)) },
        Case("id negative", ["id.positive_integer"]) { $0.set("id", .int(-2)) },
        Case("id fractional", ["id.positive_integer"]) { $0.set("id", .number("2.5")) },
        Case("id with exponent", ["id.positive_integer"]) { $0.set("id", .number("2e0")) },
        Case("id too large for an integer", ["id.positive_integer"]) { $0.set("id", .number("99999999999999999999")) },
        Case("id missing", ["id.positive_integer"]) { $0.remove("id") },
        Case("id null", ["id.positive_integer"]) { $0.set("id", .null) },
        Case("firstName blank", ["firstName.required"]) { $0.set("firstName", .string("  \t ")) },
        Case("firstName a number", ["firstName.required"]) { $0.set("firstName", .int(7)) },
        Case("lastName empty", ["lastName.required"]) { $0.set("lastName", .string("")) },
        Case("lastName null", ["lastName.required"]) { $0.set("lastName", .null) },
        Case("email missing", ["email.required"]) { $0.remove("email") },
        Case("email empty", ["email.required"]) { $0.set("email", .string("")) },
        Case("email not a string", ["email.required"]) { $0.set("email", .bool(true)) },
        Case("email without a domain dot", ["email.email_format"]) { $0.set("email", .string("emily@localhost")) },
        Case("email with two @", ["email.email_format"]) { $0.set("email", .string("a@b@example.com")) },
        Case("email with a space", ["email.email_format"]) { $0.set("email", .string("emily johnson@example.com")) },
        Case("email with a double dot", ["email.email_format"]) { $0.set("email", .string("emily..j@example.com")) },
        Case("age missing", ["age.integer"]) { $0.remove("age") },
        Case("age fractional", ["age.integer"]) { $0.set("age", .number("30.5")) },
        Case("age null", ["age.integer"]) { $0.set("age", .null) },
        Case("company missing", ["company.department.required"]) { $0.remove("company") },
        Case("company not an object", ["company.department.required"]) { $0.set("company", .string("Acme")) },
        Case("department missing", ["company.department.required"]) { $0.remove("company.department") },
        Case("department blank", ["company.department.required"]) { $0.set("company.department", .string("   ")) },
        Case("department a number", ["company.department.required"]) { $0.set("company.department", .int(4)) },
        Case("empty line", ["row.not_object"], line: ""),
        Case("truncated object", ["row.not_object"], line: #"{"id":2,"firstName":"Emily""#),
        Case("trailing garbage", ["row.not_object"], line: DummyUsers.user(1).text + "x"),
        Case("JSON string", ["row.not_object"], line: #""just a string""#),
        Case("JSON number", ["row.not_object"], line: "42"),
        Case("JSON null", ["row.not_object"], line: "null"),
    ]

    @Test(arguments: cases)
    func aBadRowLandsInTheDLQWithItsRules(_ c: Case) throws {
        let run = TransformRun()
        let summary = try run.run([DummyUsers.user(0).text, c.line, DummyUsers.user(2).text], repeats: c.repeats)
        let dlq = try run.dlq
        #expect(dlq.count == 1)
        let row = try #require(dlq.first)
        #expect(row["line"] as? Int == 2)
        #expect(row.rules == c.rules)
        for reason in (row["reasons"] as? [[String: Any]]) ?? [] {
            #expect(!((reason["message"] as? String) ?? "").isEmpty)
        }
        #expect(row["run_id"] as? String == TransformRun.context.runID)
        #expect(row["transformed_at"] as? String == TransformRun.context.transformedAt)
        let masked = try run.masked[1]
        #expect(row["record_hash"] as? String == SHA256.hash(data: Data(masked.utf8)).map { String(format: "%02x", $0) }.joined())
        // One bad row never stops the run: the valid rows around it are in users.jsonl.
        #expect(try run.users.map { $0["id"] as? Int } == [1, 3])
        #expect(summary.valid == 2)
        #expect(summary.invalid == 1)
        #expect(summary.rows == 3)
        #expect(try run.masked.count == 3)
        for rule in c.rules { #expect(summary.counts["rule:\(rule)"] == 1) }
    }

    @Test func aRowWithThreeFaultsListsAllThree() throws {
        var user = DummyUsers.user(4)
        user.set("firstName", .string(""))
        user.set("email", .string("emily.johnson.example.com"))
        user.set("age", .int(99))
        let run = TransformRun()
        let summary = try run.run([user.text])
        let row = try #require(try run.dlq.first)
        #expect(row.rules == ["firstName.required", "email.email_format", "age.range"])
        #expect(summary.counts == ["valid": 0, "invalid": 1, "unknown_department": 0,
                                   "rule:firstName.required": 1, "rule:email.email_format": 1, "rule:age.range": 1])
    }

    @Test func everyRuleInTheDocumentedOrder() throws {
        let run = TransformRun()
        try run.run([#"{"id":"x","firstName":"","lastName":null,"email":"nope","age":"old","company":{}}"#])
        #expect(try run.dlq.first?.rules == [
            "id.positive_integer", "firstName.required", "lastName.required", "email.email_format", "age.integer",
            "company.department.required",
        ])
    }

    @Test func aDuplicateAlsoCarriesItsOtherFaults() throws {
        let duplicate = DummyUsers.user(0).setting("age", .int(12))
        let run = TransformRun()
        try run.run([DummyUsers.user(0).text, duplicate.text], repeats: [RepeatedID(line: 2, id: 1)])
        #expect(try run.dlq.first?.rules == ["id.duplicate", "age.range"])
        #expect(try run.users.count == 1)
    }

    /// Which lines repeat an id is the extractor's finding (it sees the run in order; a chunk
    /// alone does not): the transformer rejects exactly the lines it lists, and says so in the
    /// words it always used.
    @Test func theDuplicatesAreTheLinesTheExtractorListed() throws {
        let run = TransformRun()
        // Lines 101…103 of the run: the first repeats an id of an earlier chunk, the third an id
        // of this chunk (the extractor lists both), the second an id the extractor did not list.
        let fromEarlierChunk = DummyUsers.user(101).setting("id", .int(7))
        let unlisted = DummyUsers.user(102).setting("id", .int(9))
        let fromThisChunk = DummyUsers.user(103).setting("id", .int(7))
        let summary = try run.run([fromEarlierChunk.text, unlisted.text, fromThisChunk.text], firstLine: 101,
                                  repeats: [RepeatedID(line: 103, id: 7), RepeatedID(line: 101, id: 7)])
        let dlq = try run.dlq
        #expect(dlq.map { $0["line"] as? Int } == [101, 103])
        for row in dlq {
            let reasons = try #require(row["reasons"] as? [[String: Any]])
            #expect(reasons.count == 1)
            #expect(reasons.first?["field"] as? String == "id")
            #expect(reasons.first?["rule"] as? String == "duplicate")
            #expect(reasons.first?["message"] as? String == "id 7 appears on an earlier line")
        }
        #expect(try run.users.map { $0["line"] as? Int } == [102])
        #expect(summary.counts["rule:id.duplicate"] == 2)
    }

    @Test func listedDuplicatesAreFoundAcrossBatchesAndThreads() throws {
        // Small batches, several workers: the listed lines fall in different batches.
        let lines = (0..<400).map { DummyUsers.user($0).text } + (0..<5).map { DummyUsers.user($0 * 50).text }
        let repeats = (0..<5).map { RepeatedID(line: 401 + $0, id: $0 * 50 + 1) }
        let run = TransformRun()
        let summary = try run.run(lines, workers: 4, batchBytes: 4096, repeats: repeats)
        #expect(summary.valid == 400)
        #expect(try run.dlq.map { $0["line"] as? Int } == [401, 402, 403, 404, 405])
        #expect(try run.dlq.map { ($0["reasons"] as? [[String: Any]])?.first?["message"] as? String }
                == repeats.map { "id \($0.id) appears on an earlier line" })
        #expect(summary.counts["rule:id.duplicate"] == 5)
    }

    @Test func aLargeRepeatedIDIsQuotedExactly() throws {
        let run = TransformRun()
        try run.run((0..<2).map { DummyUsers.user($0).setting("id", .number("9007199254740993")).text }, repeats: [RepeatedID(line: 2, id: 9_007_199_254_740_993)])
        #expect(try run.dlq.first?.rules == ["id.duplicate"])
        #expect(try run.lines(run.paths.dlq).first?.contains(#""message":"id 9007199254740993 appears on an earlier line""#) == true)
        #expect(try run.lines(run.paths.users).first?.hasPrefix(#"{"id":9007199254740993,"#) == true)
    }

    /// A line that is not a JSON object leaves staging as a placeholder only: its length and a
    /// keyed digest, the reason and where parsing failed, and none of its bytes.
    func expectPlaceholderOnly(_ line: [UInt8], message prefix: String, secrets: [String]) throws {
        let run = TransformRun()
        try run.runBytes([line])
        let placeholder = TransformRun.placeholder(for: line)
        #expect(try run.masked == [placeholder])
        let row = try #require(try run.dlq.first)
        #expect(row.rules == ["row.not_object"])
        let message = try #require((row["reasons"] as? [[String: Any]])?.first?["message"] as? String)
        #expect(message.hasPrefix(prefix), "\(message)")
        let dlqLine = try #require(try run.lines(run.paths.dlq).first)
        #expect(dlqLine.contains(#""payload":\#(placeholder)"#))
        for secret in secrets {
            for text in [dlqLine, try run.masked[0]] { #expect(!text.contains(secret), "\(secret) in \(text)") }
        }
        // Keyed: not the plain SHA-256 of the line, which anyone could confirm a guess against.
        #expect(!placeholder.contains(SHA256.hash(data: line).map { String(format: "%02x", $0) }.joined()))
    }

    @Test func aLineThatIsNotJSONLeavesNoneOfItsBytes() throws {
        let text = #"{"id": 7, "ssn": "123-45-6789", "firstName": "Broken \ row" <- not JSON"#
        try expectPlaceholderOnly(Array(text.utf8), message: "the line is not valid JSON: invalid escape at byte 54",
                                  secrets: ["123-45-6789", "6789", "Broken"])
    }

    @Test func invalidUTF8IsNotJSONAndLeavesNoneOfItsBytes() throws {
        let bytes: [UInt8] = Array(#"{"password":"hunter2-secret","firstName":""#.utf8) + [0xFF, 0xC3] + Array(#""}"#.utf8)
        try expectPlaceholderOnly(bytes, message: "the line is not valid JSON: invalid UTF-8 at byte 43",
                                  secrets: ["hunter2", "password"])
    }

    @Test(arguments: ["01", "1.", "+1", ".5", "NaN", "Infinity", "-Infinity", "0x1F", "1e", "--1"])
    func aNonStandardNumberIsNotJSON(_ number: String) throws {
        let text = #"{"ssn":"987-65-4321","id":\#(number),"firstName":"A"}"#
        try expectPlaceholderOnly(Array(text.utf8), message: "the line is not valid JSON", secrets: ["987-65-4321", "4321"])
    }

    @Test(arguments: [#"[{"ssn": "123-45-6789", "password": "hunter2"}]"#, #""123-45-6789""#, "123456789", "null", "true"])
    func aJSONLineThatIsNotAnObjectLeavesNoneOfItsBytes(_ text: String) throws {
        try expectPlaceholderOnly(Array(text.utf8), message: "the line is a JSON", secrets: ["123-45-6789", "hunter2", "123456789"])
    }

    @Test func theDLQRowHasTheDocumentedKeysInOrderAndAMaskedPayload() throws {
        let user = DummyUsers.user(3).setting("age", .int(80))
        let run = TransformRun()
        try run.run([user.text])
        let line = try #require(try run.lines(run.paths.dlq).first)
        #expect(try JSONValue.parse(line).keys == ["line", "run_id", "reasons", "payload", "record_hash", "transformed_at"])
        let payload = try #require(try run.dlq.first?["payload"] as? [String: Any])
        #expect(payload["password"] == nil)
        #expect(payload["ssn"] as? String != user.string("ssn"))
        #expect((payload["ssn"] as? String)?.hasSuffix(String(user.string("ssn")!.suffix(4))) == true)
        #expect(payload["age"] as? Int == 80)
    }

    @Test func ageLimitsComeFromTheRules() throws {
        let young = DummyUsers.user(0).setting("age", .int(16))
        let run = TransformRun()
        let rules = TransformRules(ageRange: 16...16, departments: TransformRun.rules.departments)
        let summary = try run.run([young.text, DummyUsers.user(1).text], rules: rules)
        #expect(summary.valid == 1)
        #expect(try run.users.first?["age_group"] as? String == "<18")
        #expect(try run.dlq.first?.rules == ["age.range"])
    }

    @Test func anEmptyFileGivesEmptyOutputs() throws {
        let run = TransformRun()
        let summary = try run.run([])
        #expect(summary.rows == 0)
        #expect(summary.files.map(\.rows) == [0, 0, 0])
        #expect(summary.files.map(\.bytes) == [0, 0, 0])
    }
}
