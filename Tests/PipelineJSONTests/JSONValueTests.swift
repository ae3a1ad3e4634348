import Foundation
import PipelineJSON
import Testing

/// Documents as values: parsed through the tape, written through the shared escaper.
@Suite struct JSONValueTests {
    @Test func roundTripsKeepingOrderAndNumberText() throws {
        let text = #"{"z":1,"a":[true,false,null,-0.5,1E+3,"x"],"m":{"k":"v","b":12345678901234567890}}"#
        let value = try JSONValue.parse(text)
        #expect(JSONWriter.string(value) == text)
        #expect(value.objectValue?.map(\.key) == ["z", "a", "m"])
    }

    @Test func decodesAndEncodesEscapes() throws {
        let value = try JSONValue.parse(#" "quote \" slash \/ back \\ nl \n tab \t u \u00e9 pair \ud83d\ude00 ctl \u0001" "#)
        #expect(value == .string("quote \" slash / back \\ nl \n tab \t u é pair 😀 ctl \u{01}"))
        #expect(JSONWriter.string(value) == #""quote \" slash / back \\ nl \n tab \t u é pair 😀 ctl \u0001""#)
        // What we write, Foundation reads back the same.
        let decoded = try JSONSerialization.jsonObject(with: Data(JSONWriter.bytes(value)), options: [.fragmentsAllowed]) as? String
        #expect(decoded == value.stringValue)
    }

    @Test(arguments: [
        "", " ", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "1.", "-", "1e", "tru", "nul", "\"abc", "\"\\x\"",
        "\"a\u{01}b\"", "[1] 2", "{'a':1}", "NaN",
    ])
    func rejectsInvalidDocuments(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
    }

    @Test func refusesVeryDeepNesting() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(try JSONValue.parse(fine).arrayValue != nil)
    }

    @Test func aLoneSurrogateEscapeIsJSONAndDecodesToTheReplacementCharacter() throws {
        #expect(try JSONValue.parse(#""a\ud800b""#) == .string("a\u{FFFD}b"))
    }

    /// A fragment is written as its text, escapes and number spelling included, wherever it sits.
    @Test func aFragmentIsWrittenAsItsText() throws {
        let stored = #"{"note":"caf\u00e9 \/ x","n":1.50,"a":[1E+3]}"#
        let fragment = JSONFragment(uncheckedBytes: Array(stored.utf8))
        let page: JSONValue = ["items": [.fragment(fragment), ["k": .fragment(fragment)]], "total": 2]
        #expect(JSONWriter.string(page) == #"{"items":["# + stored + #",{"k":"# + stored + #"}],"total":2}"#)
        // Looking inside still works (the text is parsed for it).
        #expect(JSONValue.fragment(fragment)["note"] == .string("café / x"))
        #expect(JSONValue.fragment(fragment).objectValue?.map(\.key) == ["note", "n", "a"])
    }
}
