import APICore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PipelineCore
import Testing
import TestSupport

/// The API against slow clients, too many clients, foreign `Host`s and requests no parser
/// accepts (docs/API.md, "Hardening"): the real binary on 127.0.0.1, driven over raw sockets
/// where a well-behaved HTTP client cannot misbehave as needed. Timeouts are set to 1 s; every
/// wait ends as soon as its answer comes, and its bound (tens of seconds, for a loaded machine)
/// only has to stay below the other timeout, which is 60 s, or catch a hang.
@Suite(.serialized) struct HardeningTests {
    static let binaryBuilt = FileManager.default.isExecutableFile(atPath: APIBinaryTests.binary)

    // MARK: Slow clients

    @Test(.enabled(if: binaryBuilt, "needs .build/debug/API (swift build)"))
    func aSilentClientIsDisconnectedAfterTheIdleTimeout() async throws {
        let (server, port) = try await startAPI(["API_IDLE_TIMEOUT_SECONDS": "1", "API_READ_TIMEOUT_SECONDS": "30"])
        defer { server.killNow() }

        let silent = try RawTCPConnection(port: port)
        let nothing = await silent.receive(within: .seconds(30))
        #expect(nothing.closed, "a client that sends nothing is disconnected")
        #expect(nothing.bytes.isEmpty)
        #expect(nothing.closedAfter.map { $0 >= .milliseconds(800) } == true, "not before the idle timeout: \(String(describing: nothing.closedAfter))")

        // A kept-alive connection that sends no next request is closed the same way.
        let keptAlive = try RawTCPConnection(port: port)
        await keptAlive.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n")
        let answered = await keptAlive.receive(within: .seconds(30))
        #expect(answered.text.hasPrefix("HTTP/1.1 200"))
        #expect(answered.closed, "idle after its response, the connection is closed")
    }

    @Test(.enabled(if: binaryBuilt, "needs .build/debug/API (swift build)"))
    func aRequestSentAByteAtATimeIsCutOffAfterTheReadTimeout() async throws {
        // The idle timeout is long: only the read timeout can close these connections in time.
        let (server, port) = try await startAPI(["API_IDLE_TIMEOUT_SECONDS": "60", "API_READ_TIMEOUT_SECONDS": "1"])
        defer { server.killNow() }

        let slowHeaders = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + String(repeating: "a", count: 500)
        let headers = try await trickle(slowHeaders, to: port)
        #expect(headers.closed, "headers sent a byte at a time are cut off")
        #expect(headers.closedAfter.map { $0 >= .milliseconds(800) && $0 < .seconds(20) } == true, "\(String(describing: headers.closedAfter))")

        // A body a byte at a time: each byte is a decoded part, which resets an idle timeout but not this one.
        let slowBody = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
        let body = try await trickle(slowBody + String(repeating: "b", count: 500), to: port, quickly: slowBody.utf8.count)
        #expect(body.closed, "a body sent a byte at a time is cut off")
        #expect(body.closedAfter.map { $0 < .seconds(20) } == true, "\(String(describing: body.closedAfter))")

        // A whole request in good time is served, and the connection is reused for the next.
        let prompt = try RawTCPConnection(port: port)
        await prompt.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try await Task.sleep(for: .milliseconds(1500))
        await prompt.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let both = await prompt.receive(within: .seconds(30))
        #expect(both.text.components(separatedBy: "HTTP/1.1 200").count == 3, "both requests answered: \(both.text)")
    }

    @Test(.enabled(if: binaryBuilt, "needs .build/debug/API (swift build)"))
    func overTheConnectionLimitItAnswers503AtOnceAndServesAgainWhenASlotFrees() async throws {
        let (server, port) = try await startAPI(["API_MAX_CONNECTIONS": "4", "API_IDLE_TIMEOUT_SECONDS": "60", "API_READ_TIMEOUT_SECONDS": "60"])
        defer { server.killNow() }

        // Connections kept alive after an answered request: each one surely holds a slot (which of
        // two connections arriving together gets the last slot is not defined).
        func hold() async throws -> RawTCPConnection {
            let connection = try RawTCPConnection(port: port)
            await connection.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let answer = await connection.receive(within: .seconds(10), until: Self.answered)
            #expect(answer.text.hasPrefix("HTTP/1.1 200") && !answer.closed, "held: \(answer.text)")
            let afterwards = await connection.receive(within: .milliseconds(300))
            #expect(!afterwards.closed, "kept alive after its answer")
            return connection
        }
        var held: [RawTCPConnection] = []
        for _ in 0..<3 { held.append(try await hold()) }
        let fourth = try await exchange(port: port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        #expect(fourth.status == 200, "three held connections leave a slot for a fourth")
        // The server frees the fourth's slot once it sees it closed.
        _ = try await eventually(within: .seconds(30)) {
            let fourthHeld = try RawTCPConnection(port: port)
            await fourthHeld.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let answer = await fourthHeld.receive(within: .seconds(10), until: Self.answered)
            if answer.text.hasPrefix("HTTP/1.1 200") { held.append(fourthHeld) }
            return held.count == 4
        }
        #expect(held.count == 4)

        var refused: RawHTTPResponse?
        var seen: [Int] = []
        _ = try await eventually(within: .seconds(30)) {
            let response = try await exchange(port: port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            seen.append(response.status)
            if response.status == 503 { refused = response }
            return response.status == 503
        }
        let response = try #require(refused, "a fifth connection is answered 503, not \(seen): \(server.log)")
        #expect(response.elapsed < .seconds(20), "and at once, not after a 60 s timeout: \(response.elapsed)")
        #expect(response.headers["retry-after"] == "1")
        #expect(response.headers["content-type"]?.hasPrefix("application/json") == true)
        let detail = try expectErrorShape(response)
        #expect(detail?["max_connections"] as? Int == 4)

        // One of the held connections goes away: service resumes.
        held.removeFirst().close()
        let resumed = try await eventually(within: .seconds(30)) {
            try await exchange(port: port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").status == 200
        }
        #expect(resumed, "a freed slot serves the next client")
        #expect(server.log.contains("connection limit reached"), "the saturation is logged")
        withExtendedLifetime(held) {}
    }

    /// A response's head has arrived (the status line and every header).
    static func answered(_ received: RawTCPConnection.Received) -> Bool {
        received.text.contains("\r\n\r\n")
    }

    // MARK: Foreign hosts (DNS rebinding)

    @Test(.enabled(if: binaryBuilt, "needs .build/debug/API (swift build)"))
    func foreignHostsAreAnswered421AndLocalNamesServed() async throws {
        let (server, port) = try await startAPI([:])
        defer { server.killNow() }

        for host in ["127.0.0.1:\(port)", "127.0.0.1", "localhost", "LocalHost:\(port)", "[::1]:\(port)", "[::1]", "api:8000"] {
            let response = try await exchange(port: port, "GET /health HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n")
            #expect(response.status == 200, "Host: \(host)")
        }
        for host in ["evil.example", "evil.example:\(port)", "127.0.0.1.nip.io", "localhost.evil.example", "[::2]:\(port)", "api.evil.example"] {
            for path in ["/health", "/etl_runs", "/nope"] {
                let response = try await exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n")
                #expect(response.status == 421, "Host: \(host) \(path)")
                let detail = try expectErrorShape(response)
                #expect(detail?["host"] as? String == host)
            }
        }
        // Before the 405 a foreign host would otherwise get, and without a body for HEAD.
        let post = try await exchange(port: port, "POST /users HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(post.status == 421)
        let head = try await exchange(port: port, "HEAD /users HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        #expect(head.status == 421)
        #expect(head.body.isEmpty)

        // No Host at all (HTTP/1.0 allows it; no browser sends it): served.
        #expect(try await exchange(port: port, "GET /health HTTP/1.0\r\n\r\n").status == 200)
        // Two Host headers: which one is meant is ambiguous, so neither is.
        let two = try await exchange(port: port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n")
        #expect(two.status == 400)
        try expectErrorShape(two)

        // curl as the compose health check runs it, and in HTTP/1.0.
        for flags in [["-fsS"], ["-fsS", "--http1.0"]] {
            let curl = try await ChildProcess.run("curl", flags + ["-o", "/dev/null", "--max-time", "5", "http://127.0.0.1:\(port)/health"])
            #expect(curl.status == 0, "curl \(flags): \(curl.stderr)")
        }
        let logged = server.log.split(separator: "\n").filter { $0.contains("status=421") }
        #expect(logged.contains { $0.contains("host=evil.example") }, "421s are logged with the host")
    }

    @Test(.enabled(if: binaryBuilt, "needs .build/debug/API (swift build)"))
    func anyHostIsServedWithAStar() async throws {
        let (server, port) = try await startAPI(["API_ALLOWED_HOSTS": "*"])
        defer { server.killNow() }
        #expect(try await exchange(port: port, "GET /health HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n").status == 200)
    }

    // MARK: Errors below the router

    @Test(.enabled(if: binaryBuilt, "needs .build/debug/API (swift build)"))
    func requestsNoParserAcceptsAreAnsweredInJSON() async throws {
        let (server, port) = try await startAPI([:])
        defer { server.killNow() }

        let malformed = [
            "GARBAGE\r\n\r\n",
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nNot a header\r\n\r\n",
            "GET /health HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
            "FROBNICATE /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET /he alth HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        ]
        for request in malformed {
            let response = try await exchange(port: port, request)
            #expect(response.status == 400, "\(request.debugDescription) -> \(response.status)")
            #expect(response.headers["connection"] == "close")
            let detail = try expectErrorShape(response)
            #expect((detail?["reason"] as? String)?.isEmpty == false)
        }
        let huge = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(String(repeating: "x", count: 100_000))\r\n\r\n"
        let tooLarge = try await exchange(port: port, huge)
        #expect(tooLarge.status == 431)
        try expectErrorShape(tooLarge)

        // A bad request after a good one on the same connection: the good one is answered first.
        let both = try await exchange(port: port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGARBAGE\r\n\r\n")
        #expect(both.status == 200)
        #expect(both.raw.contains("HTTP/1.1 400"), "then the JSON 400: \(both.raw)")

        #expect(try await exchange(port: port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").status == 200, "still serving")
    }

    // MARK: Without a socket

    @Test func theMiddlewareAnswersForeignHosts421BeforeAnythingElse() async throws {
        let fixture = try await SampleFixture(runCount: 1)
        // The router test client always sends `localhost`: make that the foreign host.
        let elsewhere = try AllowedHosts(["example.org"])
        let logs = LogCapture()
        let app = Application(router: APIServer.router(database: LazyReader(path: fixture.databasePath), logger: logs.logger, allowedHosts: elsewhere))
        try await app.test(.router) { client in
            for (path, method) in [("/users", HTTPRequest.Method.get), ("/users", .post), ("/nope", .get), ("/health", .get)] {
                let response = try await client.execute(uri: path, method: method)
                let detail = try expectError(response, .misdirectedRequest)
                #expect(detail?.string("host") == "localhost")
            }
            let head = try await client.execute(uri: "/users", method: .head)
            #expect(head.status == .misdirectedRequest)
            #expect(head.body.readableBytes == 0)
        }
        let anywhere = Application(router: APIServer.router(database: LazyReader(path: fixture.databasePath), logger: logs.logger, allowedHosts: .any))
        try await anywhere.test(.router) { client in
            let response = try await client.execute(uri: "/users", method: .get)
            #expect(response.status == .ok)
        }
        #expect(logs.all.contains { $0.metadata["status"] == "421" && $0.metadata["host"] == "localhost" })
    }

    @Test func allowedHostsCompareTheHostPartCaseInsensitively() throws {
        let hosts = AllowedHosts.default
        for allowed in ["localhost", "LOCALHOST", "localhost:8000", "127.0.0.1", "127.0.0.1:1", "[::1]", "[::1]:8000", "api", "API:8000", nil, ""] {
            #expect(hosts.allows(host: allowed), "\(String(describing: allowed))")
        }
        for foreign in ["evil.example", "localhost.evil.example", "127.0.0.2", "[::2]:8000", "::1", "apis", "localhos", "[::1", "127.0.0.1.evil"] {
            #expect(!hosts.allows(host: foreign), "\(foreign)")
        }
        let custom = try AllowedHosts(parsing: " Example.ORG , ::1,10.0.0.5 ")
        #expect(custom.allows(host: "example.org:443"))
        #expect(custom.allows(host: "[::1]:80"))
        #expect(custom.allows(host: "10.0.0.5"))
        #expect(!custom.allows(host: "localhost"))
        #expect(AllowedHosts.any.allows(host: "anything.at.all"))
        #expect(try AllowedHosts(parsing: "*") == .any)
    }

    @Test func theHardeningSettingsHaveDefaultsAndRefuseBadValues() throws {
        let defaults = try APISettings(from: SettingsReader([:]))
        #expect(defaults.connections == ConnectionSettings(idleTimeout: .seconds(30), readTimeout: .seconds(10), maxConnections: 256))
        #expect(defaults.allowedHosts == .default)
        #expect(defaults.allowedHosts.description == "127.0.0.1,[::1],api,localhost")

        let set = try APISettings(from: SettingsReader([
            "API_IDLE_TIMEOUT_SECONDS": "2.5", "API_READ_TIMEOUT_SECONDS": "1", "API_MAX_CONNECTIONS": "8", "API_ALLOWED_HOSTS": "example.org",
        ]))
        #expect(set.connections == ConnectionSettings(idleTimeout: .milliseconds(2500), readTimeout: .seconds(1), maxConnections: 8))
        #expect(set.allowedHosts == (try AllowedHosts(["example.org"])))

        let bad = [
            ("API_IDLE_TIMEOUT_SECONDS", "0"), ("API_IDLE_TIMEOUT_SECONDS", "soon"), ("API_READ_TIMEOUT_SECONDS", "-1"),
            ("API_MAX_CONNECTIONS", "0"), ("API_MAX_CONNECTIONS", "many"), ("API_ALLOWED_HOSTS", "localhost:8000"),
            ("API_ALLOWED_HOSTS", "http://localhost"), ("API_ALLOWED_HOSTS", ",,"), ("API_ALLOWED_HOSTS", "*,localhost"), ("API_ALLOWED_HOSTS", "[::1"),
        ]
        for (name, value) in bad {
            #expect(throws: ConfigurationError.self, "\(name)=\(value)") { try APISettings(from: SettingsReader([name: value])) }
            do {
                _ = try APISettings(from: SettingsReader([name: value]))
            } catch let error as ConfigurationError {
                #expect(error.variable == name)
            }
        }
    }

    @Test func everyOperationDocuments421() throws {
        let paths = try #require(OpenAPIDocument.json["paths"]?.objectValue)
        for path in paths {
            #expect(path.value["get"]?["responses"]?["421"] != nil, "\(path.key) documents 421")
        }
        #expect(OpenAPIDocument.json["components"]?["responses"]?["421"] != nil)
    }
}

// MARK: - Helpers

/// Starts the API binary on 127.0.0.1 and a free port, over a database that does not exist yet
/// (`/health` answers 200 regardless), and waits until it answers.
private func startAPI(_ environment: [String: String]) async throws -> (ChildProcess, Int) {
    let directory = TemporaryDirectory("api-hardening")
    let port = try freePort()
    let server = try ChildProcess.api(environment: environment.merging([
        "API_HOST": "127.0.0.1", "API_PORT": "\(port)", "DB_PATH": directory.file("database/data.db"),
    ]) { $1 })
    let up = try await eventually(within: .seconds(30)) {
        (try? await exchange(port: port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))?.status == 200
    }
    guard up else {
        server.killNow()
        throw Unexpected("the API did not answer on 127.0.0.1:\(port): \(server.errorLog)\(server.log)")
    }
    return (server, port)
}

/// Sends `request` on a new connection and reads until the server closes it.
private func exchange(port: Int, _ request: String) async throws -> RawHTTPResponse {
    try await RawTCPConnection.exchange(port: port, request)
}

/// Sends `text` a byte at a time, 50 ms apart (the first `quickly` bytes at once), until the
/// server closes the connection or 20 s pass; `closedAfter` counts from the first byte.
private func trickle(_ text: String, to port: Int, quickly: Int = 0) async throws -> RawTCPConnection.Received {
    let connection = try RawTCPConnection(port: port)
    let bytes = Array(text.utf8)
    let start = ContinuousClock.now
    await connection.send(String(decoding: bytes.prefix(quickly), as: UTF8.self))
    var received = RawTCPConnection.Received(bytes: [], closed: false, closedAfter: nil)
    for byte in bytes.dropFirst(quickly) where ContinuousClock.now - start < .seconds(20) {
        let sent = await connection.send(String(decoding: [byte], as: UTF8.self))
        let now = await connection.receive(within: .milliseconds(50))
        received.bytes += now.bytes
        if now.closed || !sent {
            received.closed = true
            received.closedAfter = ContinuousClock.now - start
            return received
        }
    }
    return received
}

/// Checks the API's error shape on a raw response and returns its detail.
@discardableResult
private func expectErrorShape(_ response: RawHTTPResponse, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any]? {
    #expect(response.headers["content-type"]?.hasPrefix("application/json") == true, "\(response.raw)", sourceLocation: sourceLocation)
    let parsed = try JSONSerialization.jsonObject(with: Data(response.bodyText.utf8))
    let body = try #require(parsed as? [String: Any], sourceLocation: sourceLocation)
    #expect(Set(body.keys) == ["error", "detail"], sourceLocation: sourceLocation)
    #expect((body["error"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    return body["detail"] as? [String: Any]
}
