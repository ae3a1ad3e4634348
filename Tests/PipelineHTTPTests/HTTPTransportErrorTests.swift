import Foundation
import PipelineCore
import PipelineHTTP
import Testing
import TestSupport

/// Failed transfers, each against loopback only: the error case, its retry decision and a
/// message that names the endpoint and what went wrong.
@Suite struct HTTPTransportErrorTests {
    let client = CurlHTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), totalTimeout: .seconds(5)))

    @Test func totalTimeoutOnASilentServer() async throws {
        let server = try HTTPTestServer { _ in .hang }
        defer { server.stop() }
        let client = CurlHTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), totalTimeout: .milliseconds(500)))

        let (error, elapsed) = await measure { await expectHTTPError { try await client.get(server.baseURL + "/users") } }

        let failure = try #require(error)
        guard case .timedOut(let endpoint, let phase, let limit, _) = failure else {
            Issue.record("expected a timeout, got \(failure)")
            return
        }
        #expect(endpoint.description == "127.0.0.1:\(server.port)")
        #expect(phase == .total)
        #expect(limit == .milliseconds(500))
        // Generous upper bound: it proves the call ends instead of hanging, on however busy a machine.
        #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(20))
        #expect(failure.retryDecision == .retry(retryAfter: nil))
        #expect(failure.description.contains("timed out waiting for 127.0.0.1:\(server.port)"))
        #expect(failure.description.contains("total timeout of 500 ms"))
        #expect(failure.description.contains("Operation timed out"))  // curl's own words
    }

    @Test func connectTimeoutOnASaturatedListener() async throws {
        let listener = try await HTTPSaturatedListener()
        let client = CurlHTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .milliseconds(300), totalTimeout: .seconds(60)))

        let (error, elapsed) = await measure { await expectHTTPError { try await client.get(listener.baseURL + "/users") } }

        let failure = try #require(error)
        guard case .timedOut(let endpoint, let phase, let limit, _) = failure else {
            Issue.record("expected a timeout, got \(failure)")
            return
        }
        #expect(endpoint.port == Int(listener.port))
        #expect(phase == .connect)
        #expect(limit == .milliseconds(300))
        #expect(elapsed < .seconds(30), "ended by the connect timeout, long before the 60 s total one")
        #expect(failure.retryDecision == .retry(retryAfter: nil))
        #expect(failure.description.contains("timed out connecting to 127.0.0.1:\(listener.port)"))
        #expect(failure.description.contains("connect timeout of 300 ms"))
    }

    @Test func connectionRefusedOnAClosedPort() async throws {
        let port = try freePort()

        let failure = try #require(await expectHTTPError { try await client.get("http://127.0.0.1:\(port)/users") })

        guard case .connectionFailed(let endpoint, let detail) = failure else {
            Issue.record("expected a connection failure, got \(failure)")
            return
        }
        #expect(endpoint == HTTPEndpoint(scheme: "http", host: "127.0.0.1", port: Int(port)))
        #expect(!detail.isEmpty)
        #expect(failure.retryDecision == .retry(retryAfter: nil))
        #expect(failure.description.hasPrefix("could not connect to 127.0.0.1:\(port): "))
        #expect(failure.description.contains("Failed to connect to 127.0.0.1 port \(port)"))
    }

    /// A real lookup, even of a `.invalid` name, sends a query to the machine's nameserver, and
    /// tests send nothing beyond loopback; so the DNS case is checked as the error curl's
    /// CURLE_COULDNT_RESOLVE_HOST maps to: what it says and that it is retried.
    @Test func dnsFailureSaysWhichHostAndIsRetried() {
        let endpoint = HTTPEndpoint(url: "http://no-such-host.invalid/users")
        let failure = HTTPClientError.dnsFailure(endpoint: endpoint, detail: "Could not resolve host: no-such-host.invalid")
        #expect(endpoint.host == "no-such-host.invalid")
        #expect(endpoint.port == 80)
        #expect(failure.retryDecision == .retry(retryAfter: nil))
        #expect(failure.description.contains("could not resolve host no-such-host.invalid (for no-such-host.invalid:80)"))
        #expect(failure.description.contains("Could not resolve host"))
    }

    @Test func truncatedBodyIsRetryable() async throws {
        let server = try HTTPTestServer { _ in
            .sendAndClose(HTTPTestServer.response(body: Array(#"{"users":["#.utf8), contentLength: 1000))
        }
        defer { server.stop() }

        let failure = try #require(await expectHTTPError { try await client.get(server.baseURL + "/users") })

        guard case .truncatedBody(let endpoint, let expected, let received, _) = failure else {
            Issue.record("expected a truncated body, got \(failure)")
            return
        }
        #expect(endpoint.port == Int(server.port))
        #expect(expected == 1000)
        #expect(received == 10)
        #expect(failure.retryDecision == .retry(retryAfter: nil))
        #expect(failure.description.contains("truncated response body from 127.0.0.1:\(server.port): received 10 of 1000 announced bytes"))
    }

    @Test func connectionClosedWithoutAResponse() async throws {
        let server = try HTTPTestServer { _ in .sendAndClose([]) }
        defer { server.stop() }

        let failure = try #require(await expectHTTPError { try await client.get(server.baseURL + "/users") })

        guard case .connectionLost(_, let code, _) = failure else {
            Issue.record("expected a lost connection, got \(failure)")
            return
        }
        #expect(code == 52)  // CURLE_GOT_NOTHING
        #expect(failure.retryDecision == .retry(retryAfter: nil))
        #expect(failure.description.contains("connection to 127.0.0.1:\(server.port) failed mid-request"))
    }

    @Test func announcedBodyTooLarge() async throws {
        let server = try HTTPTestServer { _ in .send(HTTPTestServer.response(body: patternBytes(4096))) }
        defer { server.stop() }
        let client = CurlHTTPClient(configuration: HTTPClientConfiguration(totalTimeout: .seconds(5), maxResponseSize: 1024))

        let failure = try #require(await expectHTTPError { try await client.get(server.baseURL + "/big") })

        #expect(failure == .responseTooLarge(endpoint: HTTPEndpoint(scheme: "http", host: "127.0.0.1", port: Int(server.port)), limit: 1024))
        #expect(failure.retryDecision == .fail)
        #expect(failure.description == "response from 127.0.0.1:\(server.port) exceeds the limit of 1024 bytes")
    }

    @Test func chunkedBodyTooLarge() async throws {
        // No Content-Length: only counting what arrives can catch it.
        let chunk = patternBytes(1000)
        var raw = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for _ in 0..<5 { raw += Array("3e8\r\n".utf8) + chunk + Array("\r\n".utf8) }
        raw += Array("0\r\n\r\n".utf8)
        let response = raw
        let server = try HTTPTestServer { _ in .send(response) }
        defer { server.stop() }

        let small = CurlHTTPClient(configuration: HTTPClientConfiguration(totalTimeout: .seconds(5), maxResponseSize: 2048))
        let failure = try #require(await expectHTTPError { try await small.get(server.baseURL + "/big") })
        #expect(failure == .responseTooLarge(endpoint: HTTPEndpoint(scheme: "http", host: "127.0.0.1", port: Int(server.port)), limit: 2048))

        // Within the limit the same chunked body arrives whole.
        let large = CurlHTTPClient(configuration: HTTPClientConfiguration(totalTimeout: .seconds(5), maxResponseSize: 5000))
        let whole = try await large.get(server.baseURL + "/big")
        #expect(whole.body == Array([[UInt8]](repeating: chunk, count: 5).joined()))
    }

    @Test func credentialsNeverAppearInErrors() async throws {
        let port = try freePort()

        let failure = try #require(await expectHTTPError { try await client.get("http://etl-user:s3cr%65t-pw@127.0.0.1:\(port)/users") })

        let text = "\(failure) \(String(reflecting: failure))"
        #expect(text.contains("127.0.0.1:\(port)"))
        for secret in ["etl-user", "s3cr%65t-pw", "s3cret-pw"] {
            #expect(!text.contains(secret), "error text leaks \(secret): \(text)")
        }
        // curl's own text comes through unharmed: short credentials are not scrubbed word-wide.
        let short = try #require(await expectHTTPError { try await client.get("http://u:p@127.0.0.1:\(port)/users") })
        #expect(short.description.contains("Couldn't connect to server"))
    }

    @Test func headerInjectionIsRefusedBeforeAnyIO() async throws {
        let failure = try #require(await expectHTTPError {
            try await client.get("http://127.0.0.1:9/users", headers: ["X-Evil": "a\r\nHost: elsewhere"])
        })
        #expect(failure == .invalidRequest(reason: "the value of header X-Evil contains CR, LF or NUL"))
        #expect(failure.retryDecision == .fail)
        let badName = try #require(await expectHTTPError { try await client.get("http://127.0.0.1:9/", headers: ["Bad Name": "x"]) })
        guard case .invalidRequest = badName else {
            Issue.record("expected an invalid request, got \(badName)")
            return
        }
    }

    @Test func otherSchemesAreRefused() async throws {
        let failure = try #require(await expectHTTPError { try await client.get("file:///etc/passwd") })
        guard case .other(_, let code, let detail) = failure else {
            Issue.record("expected another curl failure, got \(failure)")
            return
        }
        #expect(code == 1)  // CURLE_UNSUPPORTED_PROTOCOL
        #expect(!detail.isEmpty)
        #expect(failure.retryDecision == .fail)
    }

    @Test func tlsAndOtherFailuresAreNotRetried() {
        let endpoint = HTTPEndpoint(scheme: "https", host: "api.example", port: 443)
        #expect(HTTPClientError.tls(endpoint: endpoint, curlCode: 60, detail: "SSL certificate problem").retryDecision == .fail)
        #expect(HTTPClientError.other(endpoint: endpoint, curlCode: 3, detail: "bad URL").retryDecision == .fail)
        #expect(HTTPClientError.retryDecision(for: CancellationError()) == .fail)
        #expect(HTTPClientError.tls(endpoint: endpoint, curlCode: 60, detail: "SSL certificate problem").description
            == "TLS failure with api.example:443 (curl error 60): SSL certificate problem")
    }
}
