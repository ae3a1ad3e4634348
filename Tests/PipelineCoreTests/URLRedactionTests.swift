import PipelineCore
import Testing

@Suite struct URLRedactionTests {
    @Test(arguments: [
        ("https://dummyjson.com/users", "https://dummyjson.com/users"),
        ("https://u:secret@api.example/users", "https://***@api.example/users"),
        ("https://api.example/users?limit=100&token=abc", "https://api.example/users?limit=***&token=***"),
        ("http://user:s3cret@127.0.0.1:8090/users?key=abc#frag", "http://***@127.0.0.1:8090/users?key=***#***"),
        // An item without "=" may be a bare token; empty items and values hide nothing.
        ("http://h/p?abcdef&a=&&b=1", "http://h/p?***&a=&&b=***"),
        // Credentials end at the last "@", so unescaped "/", "?", "#" or "@" in a password are masked too.
        ("redis://:a/b?c#d@redis:6379/4", "redis://***@redis:6379/4"),
        ("http://u:p@ss@host/x", "http://***@host/x"),
        ("http://[::1]:8080/users?x=1", "http://[::1]:8080/users?x=***"),
        ("user:pw@host:81/", "***@host:81/"),
        ("not a url", "not a url"),
        ("", ""),
    ])
    func redactsUserinfoQueryValuesAndFragments(url: String, expected: String) {
        #expect(URLRedaction.redact(url) == expected)
        #expect(URLRedaction.redact(expected) == expected, "idempotent")
    }

    @Test func redactsEveryURLQuotedInText() {
        let text = #"GET http://u:pw1234@h:1/users?key=abc&skip=5: body is bad; see "https://x.example/?t=zz9". done"#
        #expect(URLRedaction.redactURLs(in: text)
            == #"GET http://***@h:1/users?key=***&skip=***: body is bad; see "https://x.example/?t=***". done"#)
        #expect(URLRedaction.redactURLs(in: "no url here: a://") == "no url here: a://")
        #expect(URLRedaction.redactURLs(in: "://x?y=1 and 1://z?q=2") == "://x?y=1 and 1://z?q=2", "not a scheme")
        #expect(URLRedaction.redactURLs(in: "plain text") == "plain text")
    }

    @Test func aBadURLSettingIsReportedRedacted() {
        let env = SettingsReader(["DUMMYJSON_URL": "ftp://etl:hunter22@files.example/u?key=k3y#x"])
        let error = #expect(throws: ConfigurationError.self) { try env.httpURL(Setting("DUMMYJSON_URL", .httpURL, default: "https://dummyjson.com/users", secret: true, help: "the upstream")) }
        #expect(error?.description == #"invalid DUMMYJSON_URL="ftp://***@files.example/u?key=***#***": expected an http:// or https:// URL with a host"#)
    }
}
