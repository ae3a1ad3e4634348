import DummyJSONFixture
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// Each injected fault, through the router (no socket) unless it needs a real connection.
@Suite struct FaultTests {
    func statuses(_ client: any TestClientProtocol, _ count: Int, uri: String = "/users?limit=2") async throws -> [Int] {
        var codes: [Int] = []
        for _ in 0..<count {
            codes.append(try await client.get(uri).status.code)
        }
        return codes
    }

    @Test func failEveryThirdRequestIs503() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(failEvery: 3))
        try await withRouterFixture(config) { server, client in
            #expect(try await statuses(client, 9) == [200, 200, 503, 200, 200, 503, 200, 200, 503])
            let failed = try await client.get("/users/1")
            #expect(failed.status == .ok)  // request 10
            #expect(failed.requestNumber == 10)
            #expect(server.controller.stats().byStatus == ["200": 7, "503": 3])
            #expect(server.controller.stats().injected["failEvery"] == 3)
        }
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        // a window far longer than the test, so a loaded machine cannot roll it over
        let config = FixtureConfiguration(faults: FaultSettings(rateLimit: 2, rateWindowSeconds: 600))
        try await withRouterFixture(config) { server, client in
            #expect(try await statuses(client, 2) == [200, 200])
            let limited = try await client.get("/users")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "10")
            #expect(try JSON.parse(limited.bytes)["message"]?.string?.isEmpty == false)
            #expect(try await client.get("/users/3").status == .tooManyRequests)
            #expect(server.controller.stats().byStatus == ["200": 2, "429": 2])
            #expect(server.controller.stats().injected["rateLimit"] == 2)
        }
    }

    /// Window roll-over, on the controller with explicit instants.
    @Test func rateLimitWindowsAreFixedAndRefusalsDoNotCount() {
        let controller = FixtureController(baseCount: 10, faults: FaultSettings(rateLimit: 2, rateWindowSeconds: 1))
        let t0 = ContinuousClock.now
        let ok = Admission.serve(total: 10, bodyFault: .none)
        let refused = Admission.rateLimited(retryAfterSeconds: 10)
        #expect(controller.admit(now: t0).admission == ok)  // opens the window
        #expect(controller.admit(now: t0 + .milliseconds(100)).admission == ok)
        #expect(controller.admit(now: t0 + .milliseconds(200)).admission == refused)
        #expect(controller.admit(now: t0 + .milliseconds(999)).admission == refused)
        #expect(controller.admit(now: t0 + .milliseconds(1_000)).admission == ok)  // a new window
        #expect(controller.admit(now: t0 + .milliseconds(1_100)).admission == ok)
        #expect(controller.admit(now: t0 + .milliseconds(1_200)).admission == refused)
    }

    /// The same on a real clock: after the window has passed, requests go through again.
    @Test func rateLimitRecoversAfterTheWindow() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(rateLimit: 1, rateWindowSeconds: 0.3))
        try await withRouterFixture(config) { _, client in
            #expect(try await client.get("/users").status == .ok)
            // (whether the next one is refused depends on the machine's speed: the controller
            // test above checks the window exactly)
            _ = try await client.get("/users")
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await client.get("/users").status == .ok)
        }
    }

    @Test func retryAfterIsConfigurable() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(rateLimit: 1, rateWindowSeconds: 600, retryAfterSeconds: 3))
        try await withRouterFixture(config) { _, client in
            _ = try await client.get("/users")
            let limited = try await client.get("/users")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "3")
        }
    }

    @Test func malformedRequestsGetACompleteResponseWithInvalidJSON() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(malformedRequests: [2, 4]))
        try await withRouterFixture(config) { server, client in
            let good = try await client.get("/users?limit=5")
            #expect(throws: Never.self) { try JSON.parse(good.bytes) }

            let bad = try await client.get("/users?limit=5")
            #expect(bad.status == .ok)
            #expect(bad.headers[.contentLength] == String(bad.bytes.count))  // a complete message
            #expect(bad.bytes == Array(good.bytes[..<(good.bytes.count / 2)]))
            #expect(throws: JSON.ParseError.self) { try JSON.parse(bad.bytes) }

            let third = try await client.get("/users?limit=5")
            #expect(throws: Never.self) { try JSON.parse(third.bytes) }
            let badUser = try await client.get("/users/1")  // request 4: single users too
            #expect(throws: JSON.ParseError.self) { try JSON.parse(badUser.bytes) }
            #expect(server.controller.stats().injected["malformed"] == 2)
        }
    }

    /// The truncated fault on a real socket: the head promises the full Content-Length, half the
    /// bytes arrive, then the server closes the connection.
    @Test func truncatedRequestsAreCutOffMidBody() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(truncateRequests: [2]))
        try await withLiveFixture(config) { server, port in
            let full = try await rawRequest(port: port, path: "/users?limit=10")
            #expect(full.status == 200)
            #expect(full.contentLength == full.body.count)

            let cut = try await rawRequest(port: port, path: "/users?limit=10")
            #expect(cut.status == 200)
            #expect(cut.contentLength == full.body.count)
            #expect(cut.body.count < full.body.count)
            #expect(cut.body.count == full.body.count / 2)
            #expect(cut.body == Array(full.body[..<cut.body.count]))

            let after = try await rawRequest(port: port, path: "/users?limit=10")
            #expect(after.body == full.body)
            #expect(server.controller.stats().injected["truncated"] == 1)
        }
    }

    @Test func truncatedBodyFailsTheRouterClient() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(truncateRequests: [1]))
        try await withRouterFixture(config) { _, client in
            await #expect(throws: TruncatedResponseError.self) { try await client.get("/users") }
            let next = try await client.get("/users")
            #expect(next.status == .ok)
        }
    }

    @Test func streamedPagesAreMalformedOrTruncatedByUsers() async throws {
        let users = FixtureServer.streamingThreshold + 1_000
        let config = FixtureConfiguration(users: users, faults: FaultSettings(truncateRequests: [2], malformedRequests: [1]))
        try await withRouterFixture(config) { _, client in
            let malformed = try await client.get("/users?limit=0")
            #expect(malformed.status == .ok)
            // Megabytes to parse: off the cooperative pool.
            let bytes = malformed.bytes
            await #expect(throws: JSON.ParseError.self) { _ = try await offThePool { try JSON.parse(bytes) } }
            // half the users, then the body ends without the closing brackets
            let closed = try await offThePool { try JSON.parse(bytes + Array("],\"total\":0,\"skip\":0,\"limit\":0}".utf8)) }
            #expect(closed["users"]?.array?.count == users / 2)

            await #expect(throws: TruncatedResponseError.self) { try await client.get("/users?limit=0") }
        }
    }

    @Test func totalGrowsAfterNRequests() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(totalChangeAfter: 2, totalChangeBy: 5))
        try await withRouterFixture(config) { server, client in
            #expect(try await client.getJSON("/users?limit=1").1["total"]?.int == 208)
            #expect(try await client.getJSON("/users?limit=1").1["total"]?.int == 208)
            #expect(try await client.getJSON("/users?limit=1").1["total"]?.int == 213)
            // the new users exist
            let (_, tail) = try await client.getJSON("/users?skip=208")
            #expect(tail["users"]?.array?.compactMap { $0["id"]?.int } == Array(209...213))
            #expect(try await client.get("/users/213").status == .ok)
            #expect(server.controller.stats().injected["totalChanged"] == 3)
        }
    }

    @Test func reportTotalReplacesTheEnvelopesTotalButServesTheRealUsers() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(reportTotal: Int.max))
        try await withRouterFixture(config) { server, client in
            let (_, first) = try await client.getJSON("/users?limit=100&skip=0")
            #expect(first["total"]?.int == Int.max)
            #expect(first["skip"]?.int == 0)
            #expect(first["users"]?.array?.compactMap { $0["id"]?.int } == Array(1...100))
            // Past the real data there is nothing, whatever the reported total says.
            let (_, tail) = try await client.getJSON("/users?limit=100&skip=200")
            #expect(tail["users"]?.array?.count == 8)
            #expect(tail["total"]?.int == Int.max)
            #expect(server.controller.stats().injected["reportTotal"] == 2)
            #expect(server.info().total == 208, "the data set itself is unchanged")

            // Set and cleared at run time, as the end-to-end tests do.
            #expect(try await client.send(.patch, "/_fixture/faults", json: #"{"reportTotal": 12000000}"#).status == .ok)
            #expect(try await client.getJSON("/users?limit=1").1["total"]?.int == 12_000_000)
            #expect(try await client.send(.patch, "/_fixture/faults", json: #"{"reportTotal": null}"#).status == .ok)
            #expect(try await client.getJSON("/users?limit=1").1["total"]?.int == 208)
            #expect(server.controller.faults.reportTotal == nil)
        }
    }

    @Test func downAnswers503ToEveryUsersRequest() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(down: true))
        try await withRouterFixture(config) { _, client in
            #expect(try await statuses(client, 3) == [503, 503, 503])
            #expect(try await client.get("/users/1").status == .serviceUnavailable)
            #expect(try await client.get("/users?limit=abc").status == .serviceUnavailable)
            // the fixture itself is alive and controllable
            #expect(try await client.get("/health").status == .ok)
            let patched = try await client.send(.patch, "/_fixture/faults", json: #"{"down": false}"#)
            #expect(patched.status == .ok)
            #expect(try await client.get("/users").status == .ok)
        }
    }

    @Test func delayIsAddedToEveryUsersResponse() async throws {
        let config = FixtureConfiguration(faults: FaultSettings(delayMs: 1000))
        try await withRouterFixture(config) { _, client in
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try await client.get("/users").status == .ok)
            #expect(try await client.get("/users/9999").status == .notFound)
            #expect(clock.now - start >= .milliseconds(2000))
            // The control API is not delayed: with a minute's delay on /users, two control calls
            // return in far less (a margin no loaded machine comes near).
            #expect(try await client.send(.patch, "/_fixture/faults", json: #"{"delayMs": 60000}"#).status == .ok)
            let controlStart = clock.now
            _ = try await client.get("/_fixture/stats")
            _ = try await client.get("/health")
            #expect(clock.now - controlStart < .seconds(30))
        }
    }

    @Test func faultsCombineInTheDocumentedOrder() {
        let controller = FixtureController(
            baseCount: 10,
            faults: FaultSettings(failEvery: 2, rateLimit: 3, truncateRequests: [1, 2], malformedRequests: [1])
        )
        let now = ContinuousClock.now
        #expect(controller.admit(now: now).admission == .serve(total: 10, bodyFault: .malformed))  // malformed beats truncated
        #expect(controller.admit(now: now).admission == .failed)  // failEvery beats truncated
        #expect(controller.admit(now: now).admission == .serve(total: 10, bodyFault: .none))
        #expect(controller.admit(now: now).admission == .rateLimited(retryAfterSeconds: 10))  // rate limit beats failEvery
        #expect(controller.admit(now: now + .seconds(11)).admission == .serve(total: 10, bodyFault: .none))
    }
}
