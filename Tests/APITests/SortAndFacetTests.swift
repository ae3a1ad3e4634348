import APICore
import APITestData
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PipelineCore
import Testing

/// `sort` on `/users` and `/etl_runs`, and the facet endpoints, against orders and counts worked
/// out here from the sample runs.
@Suite struct SortAndFacetTests {
    @Test func usersSortAscendingDescendingAndByTwoColumnsWithTheIdBreakingTies() async throws {
        try await SampleFixture.serving(runCount: 3, usersPerRun: 40) { _, client in
            let all = try await client.execute(uri: "/users?limit=500", method: .get).array
            #expect(all.count == 40)
            func ids(_ uri: String) async throws -> [Int] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .ok, "\(uri)")
                #expect(response.totalCount == 40)
                return try response.array.compactMap { $0.int("id") }
            }
            struct Person { var id: Int, age: Int, department: String }
            let people = all.map { Person(id: $0.int("id")!, age: $0.int("age")!, department: $0.string("department")!) }
            #expect(Set(people.map(\.age)).count < people.count, "ages repeat, so the tie-break matters")
            let byAge = people.sorted { ($0.age, $0.id) < ($1.age, $1.id) }.map(\.id)
            #expect(try await ids("/users?limit=500&sort=age") == byAge)
            let byAgeDescending = people.sorted { $0.age != $1.age ? $0.age > $1.age : $0.id < $1.id }.map(\.id)
            #expect(try await ids("/users?limit=500&sort=-age") == byAgeDescending)
            let byDepartmentThenOldest = people.sorted {
                $0.department != $1.department ? $0.department < $1.department : $0.age != $1.age ? $0.age > $1.age : $0.id < $1.id
            }.map(\.id)
            #expect(try await ids("/users?limit=500&sort=department,-age") == byDepartmentThenOldest)
            #expect(try await ids("/users?limit=500&sort=-id") == all.map { $0.int("id")! }.reversed())
            // Pages of a sorted list join up to the whole list.
            var paged: [Int] = []
            for offset in stride(from: 0, to: 40, by: 7) { paged += try await ids("/users?limit=7&offset=\(offset)&sort=-age") }
            #expect(paged == byAgeDescending)
            // Filters, CSV and sort together.
            let engineering = try await client.execute(uri: "/users?department=Engineering&sort=-age&format=csv", method: .get)
            let rows = try CSVReader.read(String(buffer: engineering.body))
            let idColumn = try #require(rows.first?.firstIndex(of: "id"))
            let engineers = Set(people.filter { $0.department == "Engineering" }.map(\.id))
            #expect(engineers.count >= 2)
            #expect(rows.dropFirst().map { Int($0[idColumn])! } == byAgeDescending.filter(engineers.contains))
        }
    }

    @Test func runsSortByAnyAllowedColumn() async throws {
        try await SampleFixture.serving { fixture, client in
            let byDuration = fixture.runs.sorted { ($0.durationMS ?? -1, $0.runID.rawValue) < ($1.durationMS ?? -1, $1.runID.rawValue) }
            #expect(Set(fixture.runs.map(\.durationMS)).count < fixture.runs.count, "durations repeat")
            let ascending = try await client.execute(uri: "/etl_runs?sort=duration_ms", method: .get).array
            #expect(ascending.map { $0.string("run_id")! } == byDuration.map(\.runID.rawValue))
            let descending = try await client.execute(uri: "/etl_runs?sort=-duration_ms", method: .get).array
            let byDurationDescending = fixture.runs.sorted {
                ($1.durationMS ?? -1, $0.runID.rawValue) < ($0.durationMS ?? -1, $1.runID.rawValue)
            }
            #expect(descending.map { $0.string("run_id")! } == byDurationDescending.map(\.runID.rawValue))
            let oldest = try await client.execute(uri: "/etl_runs?sort=started_at&limit=2", method: .get).array
            #expect(oldest.map { $0.string("run_id")! } == fixture.runs.prefix(2).map(\.runID.rawValue))
            let failed = try await client.execute(uri: "/etl_runs?status=failed&sort=-run_id", method: .get)
            #expect(try failed.array.map { $0.string("run_id")! } == fixture.runs.filter { $0.status == .failed }.map(\.runID.rawValue).sorted(by: >))
            // Without sort, the order is what it always was.
            let plain = try await client.execute(uri: "/etl_runs", method: .get).array
            #expect(plain.map { $0.string("run_id")! } == fixture.runsNewestFirst.map(\.runID.rawValue))
        }
    }

    @Test func anUnknownSortColumnIsA400ListingTheAllowedOnes() async throws {
        try await SampleFixture.serving(runCount: 1) { _, client in
            for (path, allowed) in [("/users", Queries.userSortColumns), ("/etl_runs", Queries.runSortColumns)] {
                for value in ["payload", "age;DROP%20TABLE%20users", "", "-", "id,,age", "+id", "counts", "--id"] {
                    let response = try await client.execute(uri: "\(path)?sort=\(value)", method: .get)
                    let detail = try #require(try expectError(response, .badRequest), "\(path)?sort=\(value)")
                    #expect(detail.string("parameter") == "sort")
                    #expect(detail["allowed"] as? [String] == allowed, "\(path)?sort=\(value)")
                }
            }
        }
    }

    @Test func userFacetsCountUsersPerValueUnderTheFilters() async throws {
        try await SampleFixture.serving { fixture, client in
            let expected = fixture.expectedUsers
            var departments: [String: Int] = [:]
            for user in expected.values { departments[user.department, default: 0] += 1 }
            let response = try await client.execute(uri: "/users/facets/department", method: .get)
            #expect(response.status == .ok)
            #expect(response.totalCount == departments.count)
            let facets = try response.array
            #expect(Dictionary(uniqueKeysWithValues: facets.map { ($0.string("value")!, $0.int("count")!) }) == departments)
            let counts = facets.map { $0.int("count")! }
            #expect(counts == counts.sorted(by: >), "most users first")
            #expect(facets.allSatisfy { Set($0.keys) == ["value", "count"] })

            let run = fixture.runs[0].runID.rawValue
            var ofRun: [String: Int] = [:]
            for user in expected.values where user.runID == run { ofRun[user.department, default: 0] += 1 }
            let filtered = try await client.execute(uri: "/users/facets/department?run_id=\(run)", method: .get).array
            #expect(Dictionary(uniqueKeysWithValues: filtered.map { ($0.string("value")!, $0.int("count")!) }) == ofRun)

            let codes = try await client.execute(uri: "/users/facets/department_code?limit=2", method: .get)
            #expect(try codes.array.count == 2)
            #expect(codes.totalCount == departments.count, "one code per department here")

            let detail = try #require(try expectError(try await client.execute(uri: "/users/facets/payload", method: .get), .badRequest))
            #expect(detail.string("parameter") == "column" && detail.string("in") == "path")
            #expect(detail["allowed"] as? [String] == Queries.userFacetColumns)
        }
    }

    @Test func deadLetterFacetsCountARunsRowsPerRuleAndField() async throws {
        let fixture = try await SampleFixture()
        let sample = fixture.runs[0]
        var rules: [String: Int] = [:]
        var fields: [String: Int] = [:]
        for line in sample.dlqLines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let reasons = try #require(object["reasons"] as? [[String: Any]])
            for rule in Set(reasons.compactMap { $0["rule"] as? String }) { rules[rule, default: 0] += 1 }
            for field in Set(reasons.compactMap { $0["field"] as? String }) { fields[field, default: 0] += 1 }
        }
        #expect(rules.count >= 2)
        try await fixture.app().test(.router) { [rules, fields] client in
            let byRule = try await client.execute(uri: "/etl_runs/\(sample.runID)/dlq/facets/rule", method: .get)
            #expect(byRule.status == .ok)
            #expect(byRule.totalCount == rules.count)
            #expect(Dictionary(uniqueKeysWithValues: try byRule.array.map { ($0.string("value")!, $0.int("count")!) }) == rules)
            let byField = try await client.execute(uri: "/etl_runs/\(sample.runID)/dlq/facets/field", method: .get).array
            #expect(Dictionary(uniqueKeysWithValues: byField.map { ($0.string("value")!, $0.int("count")!) }) == fields)

            try expectError(try await client.execute(uri: "/etl_runs/nope/dlq/facets/rule", method: .get), .notFound)
            let detail = try #require(try expectError(try await client.execute(uri: "/etl_runs/\(sample.runID)/dlq/facets/message", method: .get), .badRequest))
            #expect(detail["allowed"] as? [String] == Queries.deadLetterFacetColumns)
            // The run with no rows still answers, with nothing in it.
            let failedEarly = try await client.execute(uri: "/etl_runs/\(fixture.runs[3].runID)/dlq/facets/rule", method: .get)
            #expect(failedEarly.status == .ok)
        }
    }
}
