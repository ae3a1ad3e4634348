import APICore
import Foundation
import Testing

@Suite struct JSONTests {
    @Test func roundTripsKeepingOrderAndNumberText() throws {
        let text = #"{"z":1,"a":[true,false,null,-0.5,1E+3,"x"],"m":{"k":"v","b":12345678901234567890}}"#
        let value = try JSONParser.parse(text)
        #expect(JSONWriter.string(value) == text)
        #expect(value.objectValue?.map(\.key) == ["z", "a", "m"])
    }

    @Test func decodesAndEncodesEscapes() throws {
        let value = try JSONParser.parse(#" "quote \" slash \/ back \\ nl \n tab \t u \u00e9 pair \ud83d\ude00 ctl \u0001" "#)
        #expect(value == .string("quote \" slash / back \\ nl \n tab \t u é pair 😀 ctl \u{01}"))
        #expect(JSONWriter.string(value) == #""quote \" slash / back \\ nl \n tab \t u é pair 😀 ctl \u0001""#)
        // What we write, Foundation reads back the same.
        let decoded = try JSONSerialization.jsonObject(with: Data(JSONWriter.bytes(value)), options: [.fragmentsAllowed]) as? String
        #expect(decoded == value.stringValue)
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "1.", "-", "1e", "tru", "nul", "\"abc", "\"\\x\"", "\"\\ud800\"",
        "\"a\u{01}b\"", "[1] 2", "{'a':1}", "NaN",
    ])
    func rejectsInvalidDocuments(_ text: String) {
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text) }
    }

    @Test func refusesVeryDeepNesting() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(try JSONParser.parse(fine).arrayValue != nil)
    }
}

@Suite struct SecretScrubberTests {
    @Test func removesPasswordsAtAnyDepthAndMasksUnmaskedSecrets() throws {
        let raw = try JSONParser.parse("""
            {"id":1,"password":"hunter2","ssn":"900-590-289","ein":"977-175","nested":{"oldPassword":"x","list":[{"PASSWORD":"y","keep":1}]},
             "bank":{"cardNumber":"9289760655481815","iban":"****************0002","currency":"CNY"},"crypto":{"wallet":12345}}
            """)
        let scrubbed = SecretScrubber.scrub(raw)
        #expect(JSONWriter.string(scrubbed) == """
            {"id":1,"ssn":"*******-289","ein":"***-175","nested":{"list":[{"keep":1}]},\
            "bank":{"cardNumber":"************1815","iban":"****************0002","currency":"CNY"},"crypto":{"wallet":"****"}}
            """)
    }

    @Test func leavesAlreadyMaskedPayloadsAlone() throws {
        let masked = try JSONParser.parse(#"{"ssn":"*******-289","ein":"***-175","bank":{"cardNumber":"************1815","iban":"ab"},"name":"x"}"#)
        #expect(SecretScrubber.scrub(masked) == masked, "a secret of 4 characters or fewer has nothing to hide")
        #expect(SecretScrubber.scrub(.string("password: hunter2")) == .string("password: hunter2"), "a non-JSON line stays text")
    }
}

@Suite struct QueryParameterTests {
    @Test func decodesFormEncoding() {
        let query = QueryParameters(query: "department=Research+and%20Development&run_id=a%2Bb&x&limit=5&limit=7")
        #expect(query.first("department") == "Research and Development")
        #expect(query.first("run_id") == "a+b")
        #expect(query.first("x") == "")
        #expect(query.first("limit") == "5", "the first of repeated parameters wins")
        #expect(query.first("missing") == nil)
    }

    @Test func validatesPagination() throws {
        #expect(try QueryParameters(query: nil).pagination() == Pagination(limit: 50, offset: 0))
        #expect(try QueryParameters(query: "limit=500&offset=9223372036854775807").pagination() == Pagination(limit: 500, offset: .max))
        #expect(throws: APIError.self) { try QueryParameters(query: "offset=9223372036854775808").pagination() }
    }
}
