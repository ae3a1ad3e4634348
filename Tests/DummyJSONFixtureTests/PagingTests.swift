import DummyJSONFixture
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// `GET /users` envelope and paging, `GET /users/{id}`, `GET /health`: DummyJSON's behaviour.
@Suite struct PagingTests {
    func ids(_ body: JSON) -> [Int] {
        (body["users"]?.array ?? []).compactMap { $0["id"]?.int }
    }

    /// A query, the ids of its page, and the envelope's `skip` and `limit`; `total` is always 208.
    @Test(arguments: [
        ("", Array(1...30), 0, 30),  // the default limit
        ("?limit=10&skip=20", Array(21...30), 20, 10),
        ("?limit=0", Array(1...208), 0, 208),  // all
        ("?skip=208", [], 208, 0), ("?skip=209", [], 209, 0), ("?skip=5000", [], 5000, 0),
        ("?skip=200&limit=30", Array(201...208), 200, 8),
        ("?limit=1000", Array(1...208), 0, 208),
    ])
    func pageEnvelope(query: String, expected: [Int], skip: Int, limit: Int) async throws {
        try await withRouterFixture { _, client in
            let (response, body) = try await client.getJSON("/users" + query)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            #expect(body.keys == ["users", "total", "skip", "limit"])
            #expect(ids(body) == expected)
            #expect(body["users"]?.array?.count == expected.count)
            #expect(body["total"]?.int == 208)
            #expect(body["skip"]?.int == skip)
            #expect(body["limit"]?.int == limit)
        }
    }

    @Test func pagingCoversEveryUserOnce() async throws {
        try await withRouterFixture { _, client in
            var seen: [Int] = []
            var skip = 0
            while true {
                let (_, body) = try await client.getJSON("/users?limit=50&skip=\(skip)")
                let page = ids(body)
                if page.isEmpty { break }
                seen += page
                skip += page.count
            }
            #expect(seen == Array(1...208))
        }
    }

    @Test func nonNumericLimitOrSkipIs400() async throws {
        try await withRouterFixture { _, client in
            let limit = try await client.get("/users?limit=abc")
            #expect(limit.status == .badRequest)
            #expect(try JSON.parse(limit.bytes) == .object([("message", .string("Invalid 'limit' - must be a number"))]))

            let skip = try await client.get("/users?skip=x1")
            #expect(skip.status == .badRequest)
            #expect(try JSON.parse(skip.bytes) == .object([("message", .string("Invalid 'skip' - must be a number"))]))

            // limit is checked first
            let both = try await client.get("/users?limit=a&skip=b")
            #expect(try JSON.parse(both.bytes)["message"]?.string == "Invalid 'limit' - must be a number")

            // numbers JavaScript's Number() accepts are fine
            let decimal = try await client.get("/users?limit=2.7")
            #expect(decimal.status == .ok)
            #expect(try ids(JSON.parse(decimal.bytes)) == [1, 2])
        }
    }

    @Test func selectReturnsIdPlusTheNamedKeys() async throws {
        try await withRouterFixture { _, client in
            let (_, body) = try await client.getJSON("/users?limit=3&select=email,firstName")
            let users = try #require(body["users"]?.array)
            #expect(users.count == 3)
            for user in users {
                // the user's own key order, whatever the order in select
                #expect(user.keys == ["id", "firstName", "email"])
            }
            let (_, spaced) = try await client.getJSON("/users?limit=1&select=age,%20company,nope")
            #expect(spaced["users"]?[0]?.keys == ["id", "age", "company"])
            #expect(spaced["users"]?[0]?["company"]?.keys.count == 4)

            let (_, onlyUnknown) = try await client.getJSON("/users?limit=1&select=nope")
            #expect(onlyUnknown["users"]?[0]?.keys == ["id"])
        }
    }

    @Test func selectedValuesEqualTheFullUsersValues() async throws {
        try await withRouterFixture { _, client in
            let (_, full) = try await client.getJSON("/users?limit=5&skip=40")
            let (_, selected) = try await client.getJSON("/users?limit=5&skip=40&select=phone,bank,role")
            for (f, s) in zip(try #require(full["users"]?.array), try #require(selected["users"]?.array)) {
                for key in ["id", "phone", "bank", "role"] {
                    #expect(f[key] == s[key])
                }
            }
        }
    }

    @Test func userByID() async throws {
        try await withRouterFixture { server, client in
            let (response, user) = try await client.getJSON("/users/5")
            #expect(response.status == .ok)
            #expect(user["id"]?.int == 5)
            #expect(response.bytes == server.users.userBytes(at: 4))

            let (_, page) = try await client.getJSON("/users?limit=1&skip=4")
            #expect(page["users"]?[0] == user)
        }
    }

    @Test(arguments: ["999", "0", "abc", "05", "-1"])
    func unknownUserIs404(id: String) async throws {
        try await withRouterFixture { _, client in
            let response = try await client.get("/users/\(id)")
            #expect(response.status == .notFound)
            #expect(try JSON.parse(response.bytes) == .object([("message", .string("User with id '\(id)' not found"))]))
        }
    }

    @Test func healthIs200() async throws {
        try await withRouterFixture { _, client in
            let response = try await client.get("/health")
            #expect(response.status == .ok)
            #expect(try JSON.parse(response.bytes)["status"]?.string == "ok")
        }
    }

    @Test func pageWindowFollowsJavaScriptSlicing() {
        #expect(PageWindow(total: 10, skip: 0, limit: 30).indexes == 0..<10)
        #expect(PageWindow(total: 10, skip: 3, limit: 4).indexes == 3..<7)
        #expect(PageWindow(total: 10, skip: -5, limit: 2).indexes == 0..<2)  // skip > 0 only
        #expect(PageWindow(total: 10, skip: 2, limit: -3).indexes == 2..<7)  // slice(0, -3)
        #expect(PageWindow(total: 10, skip: 12, limit: 0).count == 0)
    }

    /// Pages over `FixtureServer.streamingThreshold` users are written in chunks; the bytes
    /// must be the same as the one-piece page.
    @Test func largePagesAreStreamedWithIdenticalBytes() async throws {
        let config = FixtureConfiguration(users: FixtureServer.streamingThreshold + 1_234, badFraction: 0.01)
        try await withRouterFixture(config) { server, client in
            let response = try await client.get("/users?limit=0")
            #expect(response.status == .ok)
            #expect(response.headers[.contentLength] == nil)
            let window = PageWindow(total: config.users, skip: 0, limit: 0)
            // Megabytes to generate and parse: off the cooperative pool.
            let (users, bytes) = (server.users, response.bytes)
            #expect(try await bytes == offThePool { users.pageBytes(window) })
            #expect(try await offThePool { try JSON.parse(bytes)["users"]?.array?.count } == config.users)
        }
    }
}
