import PipelineCore
import PipelineJSON
import Testing

/// One list of secret keys, matched at any depth in any spelling, and one masking of values.
@Suite struct SecretMaskingTests {
    func masked(_ text: String, _ fields: SecretFields = .default) throws -> String {
        String(decoding: try SecretMasking(fields: fields).masked(text), as: UTF8.self)
    }

    @Test func removesPasswordsAtAnyDepthAndMasksTheOtherSecrets() throws {
        let raw = """
            {"id":1,"password":"hunter2","ssn":"900-590-289","ein":"977-175","nested":{"oldPassword":"x","list":[{"PASSWORD":"y","keep":1}]},
             "bank":{"cardNumber":"9289760655481815","iban":"****************0002","currency":"CNY"},"crypto":{"wallet":12345}}
            """
        #expect(try masked(raw) == """
            {"id":1,"ssn":"*******-289","ein":"***-175","nested":{"list":[{"keep":1}]},\
            "bank":{"cardNumber":"************1815","iban":"****************0002","currency":"CNY"},"crypto":{"wallet":"****"}}
            """)
    }

    @Test func maskingWhatIsMaskedChangesNothing() throws {
        let once = try masked(#"{"ssn":"900-590-289","bank":{"cardNumber":"9289760655481815","iban":"ab"},"wallet":{"a":1},"name":"x"}"#)
        #expect(try masked(once) == once)
        #expect(try masked(#""password: hunter2""#) == #""password: hunter2""#, "values are not searched, only keys")
    }

    @Test(arguments: ["cardNumber", "card_number", "CARD-NUMBER", "Card Number", "card.number", "creditCardNumber", "bankCardNumber"])
    func spellingsOfOneNameMatch(_ key: String) {
        #expect(SecretFields.default.treatment(forKey: key) == .last4)
    }

    @Test(arguments: ["card", "number", "cardNumberType", "cardType", "email", "id", "ssnx", "iban2", "walletAddress"])
    func otherKeysDoNotMatch(_ key: String) {
        #expect(SecretFields.default.treatment(forKey: key) == nil)
    }

    @Test func escapedKeysAreResolvedBeforeMatching() throws {
        #expect(try masked(#"{"pass\u0077ord":"a","\u0053SN":"123456789"}"#) == #"{"\u0053SN":"*****6789"}"#)
    }

    @Test func nonStringSecretsAndUnicodeValues() throws {
        #expect(try masked(#"{"iban":["GB00",{"x":1}],"ssn":null,"ein":"ÄÖÜ-ßäöü","wallet":"ab\"cdef"}"#)
            == #"{"iban":"****","ssn":"****","ein":"****ßäöü","wallet":"***cdef"}"#)
        #expect(SecretMasking.mask("5355920631952404") == "************2404")
        #expect(SecretMasking.mask("1234") == "****")
    }

    @Test func aListFromTheEnvironment() throws {
        let fields = try SecretFields(from: SettingsReader(["SECRET_FIELDS": " apiKey:drop , *token , pin:LAST4 "]))
        #expect(fields.treatment(forKey: "api_key") == .drop)
        #expect(fields.treatment(forKey: "refreshToken") == .last4)
        #expect(fields.treatment(forKey: "PIN") == .last4)
        #expect(fields.treatment(forKey: "password") == nil, "the list replaces the default")
        #expect(try SecretFields(from: SettingsReader([:])) == .default)
    }

    @Test(arguments: ["", " , ", "ssn:hide", "a*b", "*", "ssn:drop:x"])
    func aBadListStopsStartUpNamingTheVariable(_ list: String) {
        if list.isEmpty {
            #expect(throws: Never.self) { try SecretFields(from: SettingsReader(["SECRET_FIELDS": list])) }
            return
        }
        #expect { try SecretFields(from: SettingsReader(["SECRET_FIELDS": list])) } throws: { error in
            (error as? ConfigurationError)?.variable == "SECRET_FIELDS"
        }
    }

    /// A compact document is masked by copying it in runs around its secrets; one with
    /// whitespace is re-written member by member. Both must give the same bytes, with dropped
    /// members first, last, in a row and alone.
    @Test(arguments: [
        #"{"password":1,"a":2}"#, #"{"a":2,"password":1}"#, #"{"password":1}"#, #"{"password":1,"passwd":2,"a":3}"#,
        #"{"a":1,"password":1,"passwd":2}"#, #"{"password":1,"a":2,"passwd":3}"#, #"{"a":{"password":[1,{"x":2}]},"b":[{"passwd":1},{}]}"#,
        #"[{"ssn":"123456789","password":"x"},[[{"iban":null,"k":"v"}]],"s",1]"#, #"{"ssn":{"password":1},"x":[]}"#,
        #"{"a":1,"b":{"c":{"d":[{"cardNumber":"4111111111111111","e":"f"}]}},"password":"p","wallet":"w123456"}"#,
        #"{"pass\u0077ord":"x","k\u00e9y":"\u00e9","ssn":"\u00e912345"}"#, #""plain""#, "[]", "{}",
    ])
    func compactAndSpacedDocumentsMaskAlike(_ text: String) throws {
        var spaced = ""
        var inString = false, escaped = false
        for character in text {
            spaced.append(character)
            if inString {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
            } else if character == "\"" {
                inString = true
            } else if ",:[{".contains(character) {
                spaced += " \n"
            }
        }
        let compact = try masked(text)
        #expect(try masked(spaced) == compact, "\(spaced)")
        #expect((try? JSONValue.parse(compact)) != nil, "\(compact)")
        #expect(!compact.contains("password") && !compact.contains("passwd"))
    }

    /// The per-worker cache answers exactly what the list answers, for keys it has seen and keys
    /// that share a slot, of every length around its 8- and 16-byte words.
    @Test func theKeyCacheAnswersLikeTheList() {
        var keys = ["ssn", "SSN", "ssn_", "ein", "iban", "IBAN", "wallet", "cryptoWallet", "cardNumber", "card_number",
                    "password", "oldPassword", "passwd", "firstName", "lastName", "a", "id", "passwordpasswordx", "x_password_y"]
        for length in 1...20 { keys.append(String(repeating: "s", count: length)); keys.append(String(repeating: "n", count: length - 1) + "ssn") }
        for k in 0..<600 { keys.append("k\(k)") }
        var cache = SecretKeyCache()
        for _ in 0..<2 {
            for key in keys {
                var copy = key
                let cached = copy.withUTF8 { cache.treatment(forKey: UnsafeRawBufferPointer($0), in: .default) }
                #expect(cached == SecretFields.default.treatment(forKey: key), "\(key)")
            }
        }
    }
}
