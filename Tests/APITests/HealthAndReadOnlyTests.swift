import APICore
import APITestData
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PipelineDatabase
import Testing
import TestSupport

@Suite struct HealthTests {
    @Test func servesHealthBeforeTheDatabaseExistsAndDataAsSoonAsItDoes() async throws {
        try await SampleFixture.serving(runCount: 3, write: false) { fixture, client in
            let health = try await client.execute(uri: "/health", method: .get)
            #expect(health.status == .ok)
            let body = try health.object
            #expect(body.string("status") == "ok")
            #expect(body.string("database") == "not_ready")
            #expect(body.string("detail")?.contains("does not exist") == true)

            for path in ["/etl_runs", "/etl_runs/x", "/etl_runs/x/dlq", "/etl_runs/x/events", "/users", "/users/1"] {
                let response = try await client.execute(uri: path, method: .get)
                let detail = try expectError(response, .serviceUnavailable)
                #expect(detail?.string("reason")?.contains("does not exist") == true)
            }
            // Parameters are checked first: a bad one is a 400 whatever the database.
            try expectError(try await client.execute(uri: "/etl_runs?limit=0", method: .get), .badRequest)
            #expect(try await client.execute(uri: "/openapi.json", method: .get).status == .ok)
            #expect(!FileManager.default.fileExists(atPath: fixture.databasePath), "the API never creates the database")
            #expect(!FileManager.default.fileExists(atPath: (fixture.databasePath as NSString).deletingLastPathComponent), "nor its folder")

            // The saver creates the database: the same server serves it from the next request on.
            try await SampleDatabase.write(fixture.runs, to: fixture.databasePath)
            let ready = try await client.execute(uri: "/health", method: .get).object
            #expect(ready.string("database") == "ready")
            #expect(ready.isNull("detail"))
            let runs = try await client.execute(uri: "/etl_runs", method: .get)
            #expect(runs.status == .ok)
            #expect(runs.totalCount == 3)
        }
    }

    @Test func aDatabaseWithoutTheSchemaIsNotReadyUntilMigrated() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("data.db")
        // A WAL database with no tables yet, as the saver leaves it for the moment before migrating.
        do {
            let pool = try DatabasePool(path: path)
            try await pool.write { try $0.execute(sql: "CREATE TABLE unrelated (x)") }
            // Keep a connection open, as a running saver would, so -wal/-shm stay for the reader.
            let logs = LogCapture()
            let app = Application(router: APIServer.router(database: LazyReader(path: path), logger: logs.logger), logger: logs.logger)
            try await app.test(.router) { client in
                let body = try await client.execute(uri: "/health", method: .get).object
                #expect(body.string("database") == "not_ready")
                #expect(body.string("detail")?.contains("tables") == true)
                try expectError(try await client.execute(uri: "/users", method: .get), .serviceUnavailable)
                try DatabaseSchema.migrator.migrate(pool)
                #expect(try await client.execute(uri: "/health", method: .get).object.string("database") == "ready")
                let users = try await client.execute(uri: "/users", method: .get)
                #expect(users.status == .ok)
                #expect(try users.array.isEmpty)
                #expect(users.totalCount == 0)
            }
        }
    }
}

@Suite struct ReadOnlyTests {
    /// Every endpoint, with and without parameters, good and bad, GET and HEAD and other methods.
    static func everyRequest(_ fixture: SampleFixture) -> [(String, HTTPRequest.Method)] {
        let run = fixture.runs[0].runID.rawValue
        let paths = [
            "/health", "/openapi.json", "/etl_runs", "/etl_runs?limit=3&offset=2&status=completed", "/etl_runs?limit=0",
            "/etl_runs/\(run)", "/etl_runs/\(run)/dlq?limit=2", "/etl_runs/\(run)/events", "/etl_runs/missing",
            "/users", "/users?department=Engineering&run_id=\(run)", "/users/1", "/users/999", "/users/abc", "/nope",
        ]
        return paths.flatMap { [($0, .get), ($0, .head), ($0, .post), ($0, .delete)] }
    }

    @Test func theDatabaseFileIsNeverWritten() async throws {
        let fixture = try await SampleFixture()
        let files = [fixture.databasePath, fixture.databasePath + "-wal"]
        func snapshot() async throws -> [String] {
            var lines: [String] = []
            for path in files {
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
                lines.append("\(path) \(attributes[.size] ?? -1) \(modified) \(try await sha256sum(path))")
            }
            return lines
        }
        let before = try await snapshot()
        // Let a coarse file-system clock tick, so a write would show in the mtime.
        try await Task.sleep(for: .milliseconds(1100))
        try await fixture.app().test(.router) { client in
            for (path, method) in Self.everyRequest(fixture) {
                let response = try await client.execute(uri: path, method: method)
                #expect(response.status != .internalServerError, "\(method) \(path)")
            }
        }
        let after = try await snapshot()
        #expect(after == before, "mtime, size and SHA-256 of the database and its WAL are unchanged: \(before) → \(after)")
    }

    @Test func theReaderCannotWriteEvenIfAskedTo() async throws {
        let fixture = try await SampleFixture(runCount: 1)
        let reader = LazyReader(path: fixture.databasePath)
        let error = await #expect(throws: DatabaseError.self) {
            try await reader.read { db in try db.execute(sql: "DELETE FROM etl_runs") }
        }
        #expect(error?.resultCode == .SQLITE_READONLY)
    }
}
