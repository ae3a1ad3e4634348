import APICore
import GRDB
import Hummingbird
import HummingbirdTesting
import Testing

/// `X-Total-Count` is remembered per reader connection while the database does not change
/// (``CountCache``), and counted again once another connection committed.
@Suite struct TotalCountTests {
    @Test func aRememberedTotalIsUsedUntilTheDatabaseChanges() async throws {
        let fixture = try await SampleFixture()
        let department = "Engineering"
        let expected = fixture.expectedUsers.values.filter { $0.department == department }.count
        let reader = LazyReader(path: fixture.databasePath)
        let logs = LogCapture()
        let app = Application(router: APIServer.router(database: reader, logger: logs.logger), logger: logs.logger)
        let requests = 10
        try await app.test(.router) { client in
            for _ in 0..<requests {
                let response = try await client.execute(uri: "/users?department=\(department)&limit=1", method: .get)
                #expect(response.totalCount == expected)
            }
            let first = reader.counts.statistics
            // At most one count per reader connection (GRDB keeps up to 5); the rest remembered.
            #expect(first.misses >= 1 && first.misses <= 5, "\(first)")
            #expect(first.hits == requests - first.misses, "\(first)")

            // Another connection commits a user of that department, as the saver would.
            let writer = try DatabasePool(path: fixture.databasePath)
            try await writer.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO users (id, run_id, full_name, email, email_domain, age, age_group, department, department_code,
                                           record_hash, payload, inserted_at, updated_at)
                        SELECT 9999, run_id, 'New User', 'new@example.com', 'example.com', 30, '25-34', ?, 'ENG',
                               'hash', '{"id":9999}', inserted_at, updated_at FROM users LIMIT 1
                        """,
                    arguments: [department])
            }
            try writer.close()
            for _ in 0..<requests {
                let response = try await client.execute(uri: "/users?department=\(department)&limit=1", method: .get)
                #expect(response.totalCount == expected + 1)
            }
            let second = reader.counts.statistics
            #expect(second.misses > first.misses, "the commit was noticed: \(second)")
        }
    }

    /// Other filters and other runs' dead letters are other counts.
    @Test func eachFilterHasItsOwnTotal() async throws {
        try await SampleFixture.serving { fixture, client in
            let users = fixture.expectedUsers
            for _ in 0..<2 {
                for department in ["Engineering", "Support", "Sales"] {
                    let response = try await client.execute(uri: "/users?department=\(department)&limit=1", method: .get)
                    #expect(response.totalCount == users.values.filter { $0.department == department }.count)
                }
                #expect(try await client.execute(uri: "/users?limit=1", method: .get).totalCount == users.count)
                for run in fixture.runs {
                    let response = try await client.execute(uri: "/etl_runs/\(run.runID)/dlq?limit=1", method: .get)
                    #expect(response.totalCount == run.dlqLines.count)
                }
            }
        }
    }
}
