import PipelineAge
import TestSupport
import Testing

@Suite("age recipients")
struct AgeRecipientTests {
    /// The example recipient of the age specification's README.
    static let valid = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

    @Test("a key made by age-keygen is accepted as it is printed")
    func aGeneratedKeyIsAccepted() async throws {
        let directory = TemporaryDirectory("age-recipient")
        let key = try await AgeTool.makeIdentity(at: directory.file("key.txt"))
        #expect(try AgeRecipient(key).encoded == key)
        #expect(try AgeRecipient("  \(Self.valid)\n").encoded == Self.valid)
        // Bytes 0...31, encoded independently (BIP 173 reference algorithm).
        #expect(try AgeRecipient("age1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0savhh7m").encoded.count == 62)
    }

    @Test("malformed keys are refused, saying why", arguments: [
        ("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8q", "checksum"),
        ("AGE1QL3Z7HJY54PW3HYWW5AYYFG7ZQGVC7W3J2ELW8ZMRJ2KG5SFN9AQMCAC8P", "lowercase"),
        ("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", "identity"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXAMPLE", "starts with age1"),
        ("age1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnryu6xr", "20 bytes"),
        ("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcacbp", "Bech32"),
        ("age1", "Bech32"),
    ])
    func malformedKeysAreRefused(key: String, reason: String) {
        #expect {
            _ = try AgeRecipient(key)
        } throws: { error in
            guard case let .invalidRecipient(_, why) = error as? AgeError else { return false }
            return why.contains(reason)
        }
    }

    @Test("an identity given as a recipient is refused without being repeated in the message")
    func anIdentityIsNeverEchoed() {
        let secret = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
        #expect {
            _ = try AgeRecipient.list("\(AgeRecipientTests.valid),\(secret)", separator: ",")
        } throws: { error in
            "\(error)".contains("identity") && !"\(error)".contains(secret) && !"\(error)".contains("GFPYYSJZ")
        }
    }

    @Test("a list: commas or lines, blanks and # comments skipped, a repeat counted once, none refused")
    func lists() throws {
        let other = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
        #expect(try AgeRecipient.list("\(Self.valid), \(other),,\(Self.valid)", separator: ",").map(\.encoded) == [Self.valid, other])
        #expect(try AgeRecipient.list("# ops team\n\(Self.valid)\n\n  # backup\n\(other)\n", separator: "\n").map(\.encoded) == [Self.valid, other])
        #expect(throws: AgeError.noRecipients) { try AgeRecipient.list(" , ", separator: ",") }
        #expect(throws: AgeError.noRecipients) { try AgeRecipient.list("# nothing\n", separator: "\n") }
    }
}
