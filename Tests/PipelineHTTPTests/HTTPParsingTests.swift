import Foundation
import PipelineHTTP
import Testing

/// Pure parsing: Retry-After forms, endpoints, URL redaction, headers.
@Suite struct HTTPParsingTests {
    let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT

    private func retryAfter(_ value: String?) -> Duration? {
        let headers = HTTPHeaders(value.map { [("Retry-After", $0)] } ?? [])
        return HTTPResponse(status: 503, headers: headers, body: [], elapsed: .zero,
                            endpoint: HTTPEndpoint(scheme: "http", host: "h", port: 80)).retryAfter(now: now)
    }

    @Test func retryAfterDeltaSeconds() {
        #expect(retryAfter("7") == .seconds(7))
        #expect(retryAfter(" 120 ") == .seconds(120))
        #expect(retryAfter("0") == .zero)
        #expect(retryAfter("99999999999999999999999") == .seconds(Int.max))
        #expect(retryAfter(nil) == nil)
        #expect(retryAfter("") == nil)
        #expect(retryAfter("-5") == nil)
        #expect(retryAfter("1.5") == nil)
        #expect(retryAfter("soon") == nil)
    }

    @Test func retryAfterHTTPDates() {
        // The three formats of RFC 9110 §5.6.7, all naming now + 60 s.
        #expect(retryAfter("Sun, 06 Nov 1994 08:50:37 GMT") == .seconds(60))
        #expect(retryAfter("Sunday, 06-Nov-94 08:50:37 GMT") == .seconds(60))
        #expect(retryAfter("Sun Nov  6 08:50:37 1994") == .seconds(60))
        // Across a month and year end.
        #expect(retryAfter("Sun, 01 Jan 1995 00:00:00 GMT") == .seconds(788_918_400 - 784_111_777))
        // Past dates mean "now".
        #expect(retryAfter("Sun, 06 Nov 1994 08:49:36 GMT") == .zero)
        #expect(retryAfter("Thu, 01 Jan 1970 00:00:00 GMT") == .zero)
        // Malformed dates are ignored.
        #expect(retryAfter("Sun, 06 Nov 1994 08:49:37 UTC") == nil)
        #expect(retryAfter("Sun, 31 Feb 1994 08:49:37 GMT") == nil)
        #expect(retryAfter("Sun, 06 Foo 1994 08:49:37 GMT") == nil)
        #expect(retryAfter("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
        #expect(retryAfter("06 Nov 1994 08:49:37 GMT") == nil)
    }

    @Test func leapYears() {
        #expect(retryAfter("Thu, 29 Feb 1996 00:00:00 GMT") != nil)
        #expect(retryAfter("Sat, 29 Feb 2000 00:00:00 GMT") != nil)
        #expect(retryAfter("Wed, 29 Feb 1995 00:00:00 GMT") == nil)
        #expect(retryAfter("Thu, 29 Feb 2100 00:00:00 GMT") == nil)
    }

    @Test(arguments: [
        ("http://127.0.0.1:8080/users", "127.0.0.1:8080", "http", 8080),
        ("https://dummyjson.com/users?limit=100&skip=0", "dummyjson.com:443", "https", 443),
        ("HTTP://Example.com", "Example.com:80", "http", 80),
        ("http://user:pw@api.example:81/x", "api.example:81", "http", 81),
        ("http://[::1]:9000/", "[::1]:9000", "http", 9000),
        ("https://[2001:db8::1]/", "[2001:db8::1]:443", "https", 443),
        ("dummyjson:3000/users", "dummyjson:3000", "http", 3000),
        ("http://[::1", "[::1]:80", "http", 80),
    ])
    func endpoints(url: String, expected: String, scheme: String, port: Int) {
        let endpoint = HTTPEndpoint(url: url)
        #expect(endpoint.description == expected)
        #expect(endpoint.scheme == scheme)
        #expect(endpoint.port == port)
    }

    @Test func redaction() {
        #expect(RedactedURL("https://u:secret@api.example/users?x=1").description == "https://***@api.example/users?x=***")
        #expect(RedactedURL("https://api.example/users").description == "https://api.example/users")
        // Credentials end at the last "@": a password holding an unescaped "/" is masked whole.
        #expect(RedactedURL("http://a@b@host/p@q").description == "http://***@q")
        #expect(RedactedURL("http://u:pa/ss@host/users").description == "http://***@host/users")
        #expect(RedactedURL("user:pw@host:81/").description == "***@host:81/")
        #expect(RedactedURL("https://u:secret@api.example/").unredacted == "https://u:secret@api.example/")
    }

    @Test func headersAreCaseInsensitiveAndKeepOrder() {
        let headers = HTTPHeaders([("Set-Cookie", "a=1"), ("content-type", "text/plain"), ("SET-COOKIE", "b=2")])
        #expect(headers["Content-Type"] == "text/plain")
        #expect(headers["set-cookie"] == "a=1")
        #expect(headers.values(for: "Set-Cookie") == ["a=1", "b=2"])
        #expect(headers.contains("CONTENT-TYPE"))
        #expect(!headers.contains("Content-Length"))
        #expect(headers.map(\.name) == ["Set-Cookie", "content-type", "SET-COOKIE"])
        #expect(headers.count == 3)
    }
}
