import Foundation
import PipelineCore
import Testing
import TestSupport
import TransformerCore
import TransformerFixtures

/// `password` is never written; SSN, EIN, card number, IBAN and wallet keep only their last four characters.
@Suite struct MaskingTests {
    @Test func noOutputHoldsASecretOfTheFixture() throws {
        // Valid rows and every kind of bad row, so that users.jsonl, dlq.jsonl and raw.masked.jsonl all have rows.
        let count = 300
        let directory = TemporaryDirectory("masking")
        let raw = directory.file("raw.jsonl")
        let bad = try DummyUsers.writeFile(path: raw, count: count, seed: 7, badEvery: 7)
        let run = TransformRun()
        try FileManager.default.copyItem(atPath: raw, toPath: run.paths.raw)
        // The repeated ids are dead-lettered as the extractor lists them.
        let summary = try run.transform(workers: 2, batchBytes: 16 << 10, repeats: ChunkedRun.repeatedIDs(try ChunkedRun.lines(ofFile: raw)))
        #expect(summary.invalid >= bad)
        #expect(summary.valid > 200)

        // Every secret of every row that carries them (a line that is not JSON or not an object has none).
        var secrets: [String] = []
        for index in 0..<count {
            if index % 7 == 6, [.notJSON, .notObject].contains(DummyUsers.BadKind.allCases[(index / 7) % DummyUsers.BadKind.allCases.count]) {
                continue
            }
            let user = DummyUsers.user(index, seed: 7)
            for path in ["password", "ssn", "ein", "bank.cardNumber", "bank.iban", "crypto.wallet"] {
                secrets.append(try #require(user.string(path)))
            }
        }
        #expect(secrets.count > 1500)
        let scanner = SubstringScanner(secrets)
        // The originals are there to find: the raw file holds every one of them.
        #expect(scanner.occurring(in: try Array(Data(contentsOf: URL(fileURLWithPath: raw)))).count == Set(secrets).count)
        for path in [run.paths.users, run.paths.dlq, run.paths.rawMasked] {
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(!bytes.isEmpty)
            let found = scanner.occurring(in: bytes)
            #expect(found.isEmpty, "\(path) holds \(found.count) secrets, e.g. \(found.prefix(3))")
            #expect(SubstringScanner(["\"password\""]).occurring(in: bytes).isEmpty, "\(path) has a password key")
        }
    }

    @Test func secretsKeepTheirLastFourCharactersAndTheirLength() throws {
        let user = DummyUsers.user(2)
        let run = TransformRun()
        try run.run([user.text])
        let row = try #require(try run.users.first)
        let bank = try #require(row["bank"] as? [String: Any])
        let crypto = try #require(row["crypto"] as? [String: Any])
        let masked: [(String, Any?)] = [("ssn", row["ssn"]), ("ein", row["ein"]), ("bank.cardNumber", bank["cardNumber"]),
                                        ("bank.iban", bank["iban"]), ("crypto.wallet", crypto["wallet"])]
        for (path, value) in masked {
            let original = try #require(user.string(path))
            let expected = String(repeating: "*", count: original.count - 4) + original.suffix(4)
            #expect(value as? String == expected, "\(path)")
        }
        #expect(row["password"] == nil)
        // The other members of the nested objects are untouched.
        #expect(bank["cardType"] as? String == user.string("bank.cardType"))
        #expect(crypto["network"] as? String == "Ethereum (ERC20)")
    }

    @Test func theDocumentedExample() {
        #expect(SecretMasking.mask("5355920631952404") == "************2404")
        #expect(SecretMasking.mask("12345") == "*2345")
        #expect(SecretMasking.mask("1234") == "****")
        #expect(SecretMasking.mask("") == "")
        #expect(SecretMasking.mask("ÄÖÜ-ßäöü") == "****ßäöü")
    }

    @Test func secretsOfEveryShapeAreMasked() throws {
        let line = #"{"id":1,"firstName":"A","lastName":"B","email":"a@b.co","age":30,"company":{"department":"Sales"},"# +
            #""pass\u0077ord":"hidden-by-escape","password":"plain-secret","ssn":123456789,"ein":null,"# +
            #""bank":{"cardNumber":"4111\"1111\\1111\u00e91234","iban":["GB00"]},"crypto":{"wallet":"0xabcdefabcdefabcdef1234"}}"#
        let run = TransformRun()
        try run.run([line])
        let masked = try #require(try run.masked.first)
        #expect(masked == #"{"id":1,"firstName":"A","lastName":"B","email":"a@b.co","age":30,"company":{"department":"Sales"},"# +
            #""ssn":"****","ein":"****","bank":{"cardNumber":"***************1234","iban":"****"},"crypto":{"wallet":"********************1234"}}"#)
        let user = try #require(try run.lines(run.paths.users).first)
        #expect(user.hasPrefix(String(masked.dropLast()) + #","full_name":"A B","#))
        for text in [masked, user] {
            #expect(!text.contains("hidden-by-escape"))
            #expect(!text.contains("plain-secret"))
            #expect(!text.contains("4111"))
        }
    }

    /// Secrets under other spellings and cases, nested anywhere and inside arrays.
    @Test func secretsAtAnyDepthInAnySpellingAndInsideArrays() throws {
        let line = #"{"id":1,"firstName":"A","lastName":"B","email":"a@b.co","age":30,"# +
            #""company":{"department":"Sales","SSN":"111-22-3333"},"Password":"pw-secret-1","# +
            #""profile":{"card_number":"5555444433332222","accounts":[{"IBAN":"DE89370400440532013000"},"# +
            #"{"nested":[{"Crypto-Wallet":"x"},{"wallet":"0xdeadbeefcafe9999"},[{"PASS_WORD":"pw-secret-2"}]]}]},"# +
            #""oldPassword":"pw-secret-3","Social_Security_Number":"222-33-4444","EIN":"12-3456789","passwd":"pw-secret-4"}"#
        let run = TransformRun()
        try run.run([line])
        func stars(_ n: Int, _ tail: String) -> String { String(repeating: "*", count: n) + tail }
        let expected = #"{"id":1,"firstName":"A","lastName":"B","email":"a@b.co","age":30,"# +
            #""company":{"department":"Sales","SSN":"\#(stars(7, "3333"))"},"# +
            #""profile":{"card_number":"\#(stars(12, "2222"))","accounts":[{"IBAN":"\#(stars(18, "3000"))"},"# +
            #"{"nested":[{"Crypto-Wallet":"*"},{"wallet":"\#(stars(14, "9999"))"},[{}]]}]},"# +
            #""Social_Security_Number":"\#(stars(7, "4444"))","EIN":"\#(stars(6, "6789"))"}"#
        #expect(try run.masked == [expected])
        let user = try #require(try run.lines(run.paths.users).first)
        #expect(user.hasPrefix(String(expected.dropLast()) + ","))
        for secret in ["pw-secret", "111-22", "55554444", "DE8937", "0xdeadbeef", "222-33", "12-345"] {
            #expect(!user.contains(secret))
        }
    }

    /// `SECRET_FIELDS` replaces the list; the same list masks whatever row it is given.
    @Test func theListComesFromSecretFields() throws {
        let fields = try SecretFields(from: SettingsReader(["SECRET_FIELDS": "token:drop, *Pin:last4"]))
        var rules = TransformRun.rules
        rules.masking = SecretMasking(fields: fields)
        let run = TransformRun()
        try run.run([#"{"id":1,"firstName":"A","lastName":"B","email":"a@b.co","age":30,"company":{"department":"Sales"},"# +
                     #""Token":"t-123","cardPin":"98765","ssn":"123-45-6789"}"#], rules: rules)
        #expect(try run.masked.first?.hasSuffix(#""cardPin":"*8765","ssn":"123-45-6789"}"#) == true)
    }
}
