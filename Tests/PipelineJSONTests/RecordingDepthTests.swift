import PipelineJSON
import Testing

/// The outer structure alone, for readers such as the extractor's page envelope.
@Suite struct RecordingDepthTests {
    @Test func containersAtTheDepthAreLeavesThatSpanTheirMembers() throws {
        let text = #"{"users":[{"id":1,"a":[1,2]},{"id":2}],"total":2}"#
        let tape = try parse(text, recordingDepth: 2)
        // root, "users", the array, its two elements, "total", 2
        #expect(tape.nodes.count == 7)
        let users = tape.nodes[2]
        #expect(users.kind == .array && users.count == 2)
        let bytes = Array(text.utf8)
        let spans = [tape.nodes[3], tape.nodes[4]].map { String(decoding: bytes[Int($0.start)..<Int($0.end)], as: UTF8.self) }
        #expect(spans == [#"{"id":1,"a":[1,2]}"#, #"{"id":2}"#])
        #expect(tape.nodes[3].count == 2, "a leaf still counts its members")
        #expect(Int(tape.nodes[3].next) == 4 && Int(tape.nodes[2].next) == 5)
    }

    @Test(arguments: [#"{"users":[{"id":01}]}"#, "{\"users\":[{\"n\":\"\u{01}\"}]}", #"{"users":[{"id":NaN}]}"#, #"{"users":[{"a":1,}]}"#])
    func whatIsNotRecordedIsStillValidated(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try parse(text, recordingDepth: 2) }
    }

    @Test func invalidUTF8DeepInsideIsRefused() {
        let bytes: [UInt8] = Array(#"{"users":[{"name":""#.utf8) + [0xC3, 0x28] + Array(#""}]}"#.utf8)
        #expect(throws: JSONSyntaxError(offset: 19, reason: "invalid UTF-8")) { try parse(bytes, recordingDepth: 2) }
    }

    /// A message about a line that holds secrets carries none of its content: only JSON's own
    /// punctuation is ever quoted.
    @Test(arguments: [#"{"ssn":"123"x}"#, #"{"a":tru}"#, #"{"a":"\q"}"#, #"{"a":1}9"#, #"["s3cr3t" "x"]"#])
    func messagesQuoteNoContent(_ text: String) {
        do {
            _ = try parse(text, recordingDepth: .max)
            Issue.record("accepted \(text)")
        } catch {
            for character in text where character.isLetter || character.isNumber {
                #expect(!error.reason.contains("'\(character)'"), "\(error.reason)")
            }
            #expect(!error.reason.contains("s3cr3t") && !error.reason.contains("123"))
        }
    }
}
