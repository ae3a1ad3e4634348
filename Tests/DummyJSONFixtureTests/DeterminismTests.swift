import DummyJSONFixture
import Testing

/// Same seed and count → byte-identical responses; users are generated alone, on demand.
@Suite struct DeterminismTests {
    @Test func sameSeedGivesIdenticalBytes() throws {
        let a = try FixtureUsers(count: 208, seed: 1, badFraction: 0.05)
        let b = try FixtureUsers(count: 208, seed: 1, badFraction: 0.05)
        let window = PageWindow(total: 208, skip: 0, limit: 0)
        #expect(a.pageBytes(window) == b.pageBytes(window))
    }

    @Test func sameSeedGivesIdenticalHTTPResponses() async throws {
        let config = FixtureConfiguration(users: 500, seed: 42, badFraction: 0.1)
        let first = try await withRouterFixture(config) { _, client in try await client.get("/users?limit=100&skip=37").bytes }
        let second = try await withRouterFixture(config) { _, client in try await client.get("/users?limit=100&skip=37").bytes }
        #expect(first == second)
        #expect(first.count > 100_000)
    }

    @Test func differentSeedGivesDifferentUsers() throws {
        let a = try FixtureUsers(count: 208, seed: 1)
        let b = try FixtureUsers(count: 208, seed: 2)
        var differing = 0
        for index in 0..<208 where a.userBytes(at: index) != b.userBytes(at: index) {
            differing += 1
        }
        #expect(differing == 208)
        // ids stay 1...N whatever the seed
        #expect(a.idJSON(at: 9) == "10" && b.idJSON(at: 9) == "10")
    }

    @Test func aUserIsTheSameAloneOrInAnyPage() throws {
        let users = try FixtureUsers(count: 1_000, seed: 7, badFraction: 0.2)
        let single = users.userBytes(at: 57)
        for (skip, limit) in [(50, 10), (57, 1), (0, 0), (10, 100)] {
            let page = try JSON.parse(users.pageBytes(PageWindow(total: 1_000, skip: skip, limit: limit)))
            #expect(page["users"]?[57 - skip] == (try JSON.parse(single)))
        }
    }

    /// The count does not change the users (only `total`): user i of a 1M fixture equals user
    /// i of a small one with the same seed.
    @Test func countDoesNotChangeTheUsers() throws {
        let small = try FixtureUsers(count: 300, seed: 5)
        let large = try FixtureUsers(count: 1_000_000, seed: 5)
        for index in [0, 1, 150, 299] {
            #expect(small.userBytes(at: index) == large.userBytes(at: index))
        }
    }

    @Test func millionthUserIsGeneratedDirectly() throws {
        let users = try FixtureUsers(count: 1_000_000, seed: 1)
        let user = try JSON.parse(users.userBytes(at: 999_999))
        #expect(user["id"]?.int == 1_000_000)
        #expect(user.keys.count == 28)
        // past the 10,000 distinct names, email and username carry the cycle number
        let email = try #require(user["email"]?.string)
        #expect(email.hasSuffix("100@x.dummyjson.com"))
    }
}
