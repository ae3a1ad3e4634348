import APICore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

@Suite struct ErrorAndMethodTests {
    static let knownPaths = [
        "/etl_runs", "/etl_runs/20261122T101500Z-3f9a", "/etl_runs/20261122T101500Z-3f9a/dlq", "/etl_runs/20261122T101500Z-3f9a/events",
        "/users", "/users/1", "/health", "/openapi.json", "/", "/ui/", "/ui/runs/20261122T101500Z-3f9a", "/ui/users",
    ]

    @Test func unknownPathsAre404InTheErrorShape() async throws {
        try await SampleFixture.serving(runCount: 1) { _, client in
            // `/` redirects to the dashboard (DashboardPageTests); these name nothing.
            for path in ["/nope", "/etl_runs/x/y/z", "/users/1/extra", "/etl_run", "/openapi.yaml", "/Users"] {
                let response = try await client.execute(uri: path, method: .get)
                let detail = try expectError(response, .notFound)
                #expect(detail?.string("path") == path)
            }
            let post = try await client.execute(uri: "/nope", method: .post)
            try expectError(post, .notFound)
            #expect(post.headers[.allow] == nil, "only known paths advertise their methods")
        }
    }

    @Test func otherMethodsOnKnownPathsAre405WithAllow() async throws {
        try await SampleFixture.serving(runCount: 1) { fixture, client in
            let methods: [HTTPRequest.Method] = [.post, .put, .patch, .delete, .options, .trace, HTTPRequest.Method("PURGE")!]
            for path in Self.knownPaths {
                for method in methods {
                    let response = try await client.execute(uri: path, method: method)
                    let detail = try expectError(response, .methodNotAllowed)
                    #expect(response.headers[.allow] == "GET, HEAD", "\(method) \(path)")
                    #expect(detail?.string("method") == method.rawValue)
                    #expect(detail?["allowed"] as? [String] == ["GET", "HEAD"])
                }
            }
            // With a trailing slash the router matches the same path, and so does the method check.
            try expectError(try await client.execute(uri: "/users/", method: .delete), .methodNotAllowed)
        }
    }

    @Test func headAnswersLikeGetWithoutABody() async throws {
        try await SampleFixture.serving(runCount: 3) { fixture, client in
            for path in Self.knownPaths.filter({ !$0.contains("3f9a") }) + ["/etl_runs/\(fixture.runs[0].runID)"] {
                let get = try await client.execute(uri: path, method: .get)
                let head = try await client.execute(uri: path, method: .head)
                #expect(head.status == get.status, "\(path)")
                #expect(head.body.readableBytes == 0)
                #expect(head.headers[.contentLength] == String(get.body.readableBytes))
                #expect(head.totalCount == get.totalCount)
            }
            let missing = try await client.execute(uri: "/users/999", method: .head)
            #expect(missing.status == .notFound)
            #expect(missing.body.readableBytes == 0)
        }
    }

    @Test func everyRequestIsLoggedWithMethodPathStatusAndDuration() async throws {
        let fixture = try await SampleFixture(runCount: 1)
        let logs = LogCapture()
        try await fixture.app(logs: logs).test(.router) { client in
            _ = try await client.execute(uri: "/etl_runs?limit=2", method: .get)
            _ = try await client.execute(uri: "/users/999", method: .get)
            _ = try await client.execute(uri: "/users", method: .post)
            _ = try await client.execute(uri: "/nope", method: .get)
        }
        let lines = logs.all.filter { $0.message == "request" }
        #expect(lines.map { $0.metadata["method"] ?? "" } == ["GET", "GET", "POST", "GET"])
        #expect(lines.map { $0.metadata["path"] ?? "" } == ["/etl_runs?limit=***", "/users/999", "/users", "/nope"])
        #expect(lines.map { $0.metadata["status"] ?? "" } == ["200", "404", "405", "404"])
        for line in lines {
            #expect(line.level == .info)
            let duration = try #require(line.metadata["duration_ms"].flatMap(Double.init))
            #expect(duration >= 0 && duration < 10_000)
        }
    }

    @Test func aFileThatIsNotADatabaseReadsAsNotReady() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("data.db")
        try Data(String(repeating: "this is not an SQLite database\n", count: 10).utf8).write(to: URL(fileURLWithPath: path))
        let logs = LogCapture()
        let app = Application(router: APIServer.router(database: LazyReader(path: path), logger: logs.logger), logger: logs.logger)
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/etl_runs", method: .get)
            let detail = try expectError(response, .serviceUnavailable)
            #expect(detail?.string("reason")?.isEmpty == false)
            #expect(response.headers[.retryAfter] == "5")
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
            #expect(try health.object.string("database") == "not_ready")
        }
    }
}
