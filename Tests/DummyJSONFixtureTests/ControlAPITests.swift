import DummyJSONFixture
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// `/_fixture/faults`, `/_fixture/stats`, `/_fixture/reset`.
@Suite struct ControlAPITests {
    @Test func getFaultsReturnsTheCurrentSettings() async throws {
        let start = FaultSettings(failEvery: 4, truncateRequests: [7])
        try await withRouterFixture(FixtureConfiguration(faults: start)) { _, client in
            let (response, body) = try await client.getJSON("/_fixture/faults")
            #expect(response.status == .ok)
            #expect(body["failEvery"]?.int == 4)
            #expect(body["truncateRequests"] == .array([.number("7", 7)]))
            #expect(body["totalChangeAfter"] == .null)
            #expect(body["down"] == .bool(false))
            #expect(Set(body.keys) == [
                "failEvery", "rateLimit", "rateWindowSeconds", "retryAfterSeconds", "delayMs",
                "truncateRequests", "malformedRequests", "totalChangeAfter", "totalChangeBy", "down", "reportTotal",
                "hostile", "invalidUTF8Users", "nanUsers",
            ])
            #expect(body["reportTotal"] == .null)
            #expect(try JSONDecoder().decode(FaultSettings.self, from: Data(response.bytes)) == start)
        }
    }

    @Test func putReplacesAndPatchMerges() async throws {
        try await withRouterFixture { server, client in
            let put = try await client.send(.put, "/_fixture/faults", json: #"{"failEvery": 3, "rateLimit": 5, "rateWindowSeconds": 2.5}"#)
            #expect(put.status == .ok)
            #expect(server.controller.faults == FaultSettings(failEvery: 3, rateLimit: 5, rateWindowSeconds: 2.5))

            let patch = try await client.send(.patch, "/_fixture/faults", json: #"{"down": true, "totalChangeAfter": 10}"#)
            #expect(patch.status == .ok)
            #expect(server.controller.faults == FaultSettings(failEvery: 3, rateLimit: 5, rateWindowSeconds: 2.5, totalChangeAfter: 10, down: true))

            _ = try await client.send(.patch, "/_fixture/faults", json: #"{"totalChangeAfter": null}"#)
            #expect(server.controller.faults.totalChangeAfter == nil)

            // PUT replaces: keys left out go back to their defaults
            _ = try await client.send(.put, "/_fixture/faults", json: #"{"malformedRequests": [1, 2]}"#)
            #expect(server.controller.faults == FaultSettings(malformedRequests: [1, 2]))
            let (_, current) = try await client.getJSON("/_fixture/faults")
            #expect(current["malformedRequests"]?.array?.count == 2)
            #expect(current["failEvery"]?.int == 0)
        }
    }

    @Test(arguments: [
        (#"{"failEvry": 3}"#, "unknown fault setting 'failEvry'"),
        (#"{"failEvery": "three"}"#, "failEvery"),
        (#"{"failEvery": -1}"#, "failEvery must not be negative"),
        (#"{"truncateRequests": [0]}"#, "truncateRequests"),
        (#"{"rateWindowSeconds": 0}"#, "rateWindowSeconds"),
        (#"[1, 2]"#, "invalid fault settings"),
        (#"{"down": tru"#, "invalid fault settings"),
    ])
    func invalidSettingsAre400AndChangeNothing(body: String, message: String) async throws {
        let start = FaultSettings(failEvery: 9)
        try await withRouterFixture(FixtureConfiguration(faults: start)) { server, client in
            let response = try await client.send(.put, "/_fixture/faults", json: body)
            #expect(response.status == .badRequest)
            let text = try #require(try JSON.parse(response.bytes)["message"]?.string)
            #expect(text.contains(message), "\(text)")
            #expect(server.controller.faults == start)
        }
    }

    @Test func statsCountRequestsByStatus() async throws {
        try await withRouterFixture(FixtureConfiguration(faults: FaultSettings(failEvery: 4))) { _, client in
            _ = try await client.get("/users")
            _ = try await client.get("/users?limit=x")
            _ = try await client.get("/users/404404")
            _ = try await client.get("/users/1")
            _ = try await client.get("/health")  // not a /users request
            let (_, stats) = try await client.getJSON("/_fixture/stats")
            #expect(stats["requests"]?.int == 4)
            #expect(stats["byStatus"] == .object([("200", .number("1", 1)), ("400", .number("1", 1)), ("404", .number("1", 1)), ("503", .number("1", 1))]))
            #expect(stats["injected"]?["failEvery"]?.int == 1)
        }
    }

    @Test func resetClearsCountersAndRestoresTheStartFaults() async throws {
        let start = FaultSettings(failEvery: 2)
        try await withRouterFixture(FixtureConfiguration(faults: start)) { server, client in
            _ = try await client.get("/users")
            _ = try await client.get("/users")
            _ = try await client.send(.put, "/_fixture/faults", json: #"{"down": true}"#)
            #expect(try await client.get("/users").requestNumber == 3)

            let reset = try await client.send(.post, "/_fixture/reset")
            #expect(reset.status == .ok)
            #expect(server.controller.faults == start)
            #expect(server.controller.stats() == FixtureStats())

            // numbering starts again from 1, so request 2 fails again
            let first = try await client.get("/users")
            #expect(first.requestNumber == 1)
            #expect(first.status == .ok)
            #expect(try await client.get("/users").status == .serviceUnavailable)
        }
    }

    @Test func settingFaultsKeepsTheCounters() async throws {
        try await withRouterFixture { _, client in
            _ = try await client.get("/users")
            _ = try await client.send(.put, "/_fixture/faults", json: #"{"malformedRequests": [2]}"#)
            let second = try await client.get("/users")
            #expect(second.requestNumber == 2)
            #expect(throws: JSON.ParseError.self) { try JSON.parse(second.bytes) }
        }
    }

    @Test func infoReportsTheCurrentTotal() async throws {
        let config = FixtureConfiguration(users: 50, seed: 3, faults: FaultSettings(totalChangeAfter: 1, totalChangeBy: 2))
        try await withRouterFixture(config) { _, client in
            #expect(try await client.getJSON("/_fixture/info").1["total"]?.int == 50)
            _ = try await client.get("/users")
            let (_, info) = try await client.getJSON("/_fixture/info")
            #expect(info["total"]?.int == 52)
            #expect(info["seed"]?.int == 3)
        }
    }
}
