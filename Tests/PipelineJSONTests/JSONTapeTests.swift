import Foundation
import Testing
import PipelineJSON

/// The tape of `bytes`, containers recorded down to `recordingDepth`.
func parse(_ bytes: [UInt8], recordingDepth: Int = .max) throws(JSONSyntaxError) -> JSONTape {
    var tape = JSONTape()
    var failure: JSONSyntaxError?
    bytes.withUnsafeBytes { raw in
        do throws(JSONSyntaxError) { try tape.parse(raw, recordingDepth: recordingDepth) } catch { failure = error }
    }
    if let failure { throw failure }
    return tape
}

func parse(_ text: String, recordingDepth: Int = .max) throws(JSONSyntaxError) -> JSONTape {
    try parse(Array(text.utf8), recordingDepth: recordingDepth)
}

/// The one parser: accepts exactly JSON (RFC 8259), keeps text exact.
@Suite struct JSONTapeTests {

    static let valid = [
        "{}", "[]", "0", "-0", "1.5e-3", "-12.25E+10", "true", "false", "null", #""""#, #""\u00e9\ud83d\ude00""#,
        #"{"a":[1,{"b":null}],"c":"d"}"#, "  { \"a\" :\t1 }\r", #"["\"\\\/\b\f\n\r\t"]"#, "\"é中😀\"",
        "[" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "]",
    ]

    @Test(arguments: valid)
    func acceptsJSON(_ text: String) throws {
        _ = try parse(text)
        // Agrees with Foundation.
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil)
    }

    static let invalid = [
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
        "\"abc", "\"a\tb\"", #""\x""#, #""\u12G4""#, "[1 2]", "{} {}", "NaN", "'a'", "{\"a\":1}x",
        String(repeating: "[", count: 200) + String(repeating: "]", count: 200),
    ]

    @Test(arguments: invalid)
    func rejectsWhatIsNotJSON(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try parse(text) }
    }

    @Test func rejectsInvalidUTF8InStrings() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22],
                               [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]] {
            #expect(throws: JSONSyntaxError.self) { try parse(bytes) }
        }
    }

    @Test func keepsKeyOrderAndExactText() throws {
        let text = #"{"z":1.50,"a":"x\u0041","m":[1e2,-0.0],"dup":1,"dup":2}"#
        let tape = try parse(text)
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { raw in
            let members = tape.members(of: 0)
            #expect(members.map { tape.decodedString($0.key, in: raw) } == ["z", "a", "m", "dup", "dup"])
            #expect(String(decoding: tape.text(members[0].value, in: raw), as: UTF8.self) == "1.50")
            #expect(tape.decodedString(members[1].value, in: raw) == "xA")
            #expect(String(decoding: tape.text(members[2].value, in: raw), as: UTF8.self) == "[1e2,-0.0]")
            #expect(tape.intValue(members[4].value, in: raw) == 2)
            #expect(tape.member("dup", of: 0, in: raw) == members[4].value, "the last of a repeated key wins")
            #expect(tape.doubleValue(members[0].value, in: raw) == 1.5)
            #expect(tape.intValue(members[0].value, in: raw) == nil)
        }
        #expect(tape.isCompact)
        #expect(try !parse(" {}").isCompact)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let text = #"["\ud83d\ude00 \u00e9 \"q\" \\ \/ \n", "\ud800 lone"]"#
        let tape = try parse(text)
        Array(text.utf8).withUnsafeBytes { raw in
            #expect(tape.decodedString(1, in: raw) == "😀 é \"q\" \\ / \n")
            #expect(tape.decodedString(2, in: raw) == "\u{FFFD} lone")
        }
    }

    @Test func integersThatDoNotFitAreNotIntegers() throws {
        let text = "[9223372036854775807,-9223372036854775808,9223372036854775808]"
        let tape = try parse(text)
        Array(text.utf8).withUnsafeBytes { raw in
            #expect(tape.intValue(1, in: raw) == Int.max)
            #expect(tape.intValue(2, in: raw) == Int.min)
            #expect(tape.intValue(3, in: raw) == nil)
        }
    }

    @Test func errorsSayWhatAndWhere() {
        #expect(throws: JSONSyntaxError(offset: 7, reason: "expected ',' or '}' in an object, found a digit")) { try parse(#"{"a":1 2}"#) }
        #expect(throws: JSONSyntaxError(offset: 0, reason: "empty document")) { try parse("") }
        #expect(throws: JSONSyntaxError(offset: 1, reason: "unterminated string")) { try parse(#"["abc"#) }
    }
}
