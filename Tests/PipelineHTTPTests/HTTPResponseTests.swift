import Foundation
import PipelineCore
import PipelineHTTP
import Testing
import TestSupport

/// Complete responses from the loopback test server: status, headers, body, Retry-After.
@Suite struct HTTPResponseTests {
    let client = CurlHTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), totalTimeout: .seconds(10)))

    /// GETs `path` from a server answering every request with `reply`; the server, stopped by
    /// then, keeps its port and the requests it received.
    func get(_ path: String, from reply: HTTPTestReply, headers: [String: String] = [:]) async throws -> (HTTPResponse, HTTPTestServer) {
        let server = try HTTPTestServer { _ in reply }
        defer { server.stop() }
        return (try await client.get(server.baseURL + path, headers: headers), server)
    }

    @Test func okWithJSONBody() async throws {
        let json = Array(#"{"users":[{"id":1,"firstName":"Emily"}],"total":208,"skip":0,"limit":1}"#.utf8)
        let reply = HTTPTestServer.response(headers: [("Content-Type", "application/json"), ("X-Multi", "a"), ("x-multi", "b")], body: json)
        let (response, server) = try await get("/users?limit=1&skip=0", from: .send(reply), headers: ["X-Request-Id": "r-1"])
        #expect(response.status == 200)
        #expect(response.isSuccess)
        #expect(response.body == json)
        #expect(response.headers["content-type"] == "application/json")
        #expect(response.headers["CONTENT-TYPE"] == "application/json")
        #expect(response.headers["Content-Length"] == String(json.count))
        #expect(response.headers.values(for: "X-MULTI") == ["a", "b"])
        #expect(response.headers["X-Absent"] == nil)
        #expect(response.elapsed > .zero && response.elapsed < .seconds(10))
        #expect(response.endpoint.description == "127.0.0.1:\(server.port)")
        #expect(response.retryAfter(now: Date()) == nil)
        // What went over the wire: the path and query, our headers, compression offered.
        let request = try #require(server.requests.first)
        #expect(request.method == "GET")
        #expect(request.target == "/users?limit=1&skip=0")
        #expect(request.headers["x-request-id"] == "r-1")
        #expect(request.headers["user-agent"] == HTTPClientConfiguration.defaultUserAgent)
        #expect(request.headers["accept-encoding"]?.contains("gzip") == true)
    }

    @Test func twoMegabyteBodyArrivesIntact() async throws {
        let body = patternBytes(2 * 1024 * 1024)
        let (response, _) = try await get("/big", from: .send(HTTPTestServer.response(body: body)))
        #expect(response.status == 200)
        #expect(response.body.count == body.count)
        #expect(response.body == body)
    }

    @Test func gzipBodyIsDecoded() async throws {
        let (response, _) = try await get("/users", from: .send(HTTPTestServer.response(headers: [("Content-Encoding", "gzip")], body: gzippedUsers)))
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == usersJSON)
    }

    @Test func notFoundIsAResponseThatFails() async throws {
        let reply = HTTPTestServer.response(status: 404, reason: "Not Found", body: Array(#"{"message":"not found"}"#.utf8))
        let (response, server) = try await get("/nope", from: .send(reply))
        #expect(response.status == 404)
        #expect(!response.isSuccess)
        #expect(response.body == Array(#"{"message":"not found"}"#.utf8))
        #expect(response.retryDecision(now: Date()) == .fail)
        #expect(throws: HTTPClientError.unsuccessfulStatus(
            endpoint: HTTPEndpoint(scheme: "http", host: "127.0.0.1", port: Int(server.port)), status: 404, retryAfter: nil
        )) {
            try response.requireSuccess()
        }
    }

    @Test func serviceUnavailableWithRetryAfterSeconds() async throws {
        let reply = HTTPTestServer.response(status: 503, reason: "Service Unavailable", headers: [("Retry-After", "7")])
        let (response, server) = try await get("/users", from: .send(reply))
        #expect(response.status == 503)
        #expect(response.retryAfter(now: Date()) == .seconds(7))
        #expect(response.retryDecision(now: Date()) == .retry(retryAfter: .seconds(7)))
        // The same decision through the error path the extractor uses.
        let error = try #require(throws: HTTPClientError.self) { try response.requireSuccess() }
        #expect(error.retryDecision == .retry(retryAfter: .seconds(7)))
        #expect(HTTPClientError.retryDecision(for: error) == .retry(retryAfter: .seconds(7)))
        #expect(error.description == "HTTP 503 from 127.0.0.1:\(server.port) (Retry-After 7 s)")
    }

    @Test func tooManyRequestsWithRetryAfterDate() async throws {
        let now = Date(timeIntervalSince1970: 1_795_000_000)  // a whole second, so the wait is exact
        let in30s = httpDate(now.addingTimeInterval(30))
        let reply = HTTPTestServer.response(status: 429, reason: "Too Many Requests", headers: [("retry-after", in30s)])
        let (response, _) = try await get("/users", from: .send(reply))
        #expect(response.status == 429)
        #expect(response.headers["Retry-After"] == in30s)
        #expect(response.retryAfter(now: now) == .seconds(30))
        #expect(response.retryDecision(now: now) == .retry(retryAfter: .seconds(30)))
        // A date already past means "retry now".
        #expect(response.retryAfter(now: now.addingTimeInterval(60)) == .zero)
    }

    @Test func badRequestFailsWithoutRetry() async throws {
        let reply = HTTPTestServer.response(status: 400, reason: "Bad Request", headers: [("Retry-After", "5")])
        let (response, _) = try await get("/users?limit=-1", from: .send(reply))
        #expect(response.status == 400)
        #expect(response.retryDecision(now: Date()) == .fail)
        let error = try #require(throws: HTTPClientError.self) { try response.requireSuccess() }
        #expect(error.retryDecision == .fail)
    }

    @Test(arguments: [(408, true), (429, true), (500, true), (502, true), (599, true), (400, false), (401, false), (403, false), (404, false), (422, false), (200, false), (304, false)])
    func statusClassification(status: Int, retried: Bool) {
        let response = HTTPResponse(
            status: status, headers: HTTPHeaders(), body: [], elapsed: .zero,
            endpoint: HTTPEndpoint(scheme: "http", host: "h", port: 80)
        )
        #expect(response.retryDecision(now: Date()) == (retried ? .retry(retryAfter: nil) : .fail))
    }

    @Test func redirectsAreFollowedAndOnlyTheFinalHeadersKept() async throws {
        let server = try HTTPTestServer { request in
            request.target == "/old"
                ? .send(HTTPTestServer.response(status: 301, reason: "Moved Permanently", headers: [("Location", "/new"), ("X-Hop", "1")]))
                : .send(HTTPTestServer.response(headers: [("X-Final", "yes")], body: Array("moved here".utf8)))
        }
        defer { server.stop() }

        let response = try await client.get(server.baseURL + "/old")
        #expect(response.status == 200)
        #expect(response.body == Array("moved here".utf8))
        #expect(response.headers["X-Final"] == "yes")
        #expect(response.headers["X-Hop"] == nil)
        #expect(server.requests.map(\.target) == ["/old", "/new"])

        let noFollow = CurlHTTPClient(configuration: HTTPClientConfiguration(totalTimeout: .seconds(5), followRedirects: false))
        let redirect = try await noFollow.get(server.baseURL + "/old")
        #expect(redirect.status == 301)
        #expect(redirect.headers["Location"] == "/new")
    }

    @Test func keepAliveReusesTheConnection() async throws {
        let server = try HTTPTestServer { _ in .send(HTTPTestServer.response(body: Array("ok".utf8))) }
        defer { server.stop() }

        for _ in 0..<3 {
            let response = try await client.get(server.baseURL + "/ping")
            #expect(response.body == Array("ok".utf8))
        }

        #expect(server.requests.count == 3)
        #expect(server.acceptedConnections == 1)
    }
}

/// `date` as an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`.
func httpDate(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return formatter.string(from: date)
}

let usersJSON = #"{"users": [{"id": 1, "firstName": "Emily"}, {"id": 2, "firstName": "Emily"}, {"id": 3, "firstName": "Emily"}], "total": 3, "skip": 0, "limit": 3}"#

/// `usersJSON` gzipped (Python's `gzip.compress(body, mtime=0)`).
let gzippedUsers: [UInt8] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x2a, 0x2d, 0x4e, 0x2d,
    0x2a, 0x56, 0xb2, 0x52, 0x88, 0xae, 0x56, 0xca, 0x4c, 0x01, 0xd2, 0x86, 0x3a, 0x0a, 0x4a, 0x69,
    0x99, 0x45, 0xc5, 0x25, 0x7e, 0x89, 0xb9, 0xa9, 0x40, 0xbe, 0x92, 0x6b, 0x6e, 0x66, 0x4e, 0xa5,
    0x52, 0xad, 0x8e, 0x02, 0x54, 0x81, 0x11, 0x21, 0x05, 0xc6, 0x38, 0x14, 0xc4, 0x02, 0xc5, 0x4b,
    0xf2, 0x4b, 0x12, 0x73, 0xa0, 0x6a, 0x8a, 0xb3, 0x33, 0x0b, 0x80, 0x4c, 0x03, 0x20, 0x33, 0x27,
    0x33, 0x37, 0xb3, 0x04, 0x24, 0x5c, 0x0b, 0x00, 0xd7, 0x2f, 0x02, 0xea, 0x91, 0x00, 0x00, 0x00,
]
