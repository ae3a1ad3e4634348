import APICore
import APITestData
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// `/ui/users`: lookup by id, filters by department and run, sorting over the allow-list of
/// `/users`, paging; a blank form field means no filter.
@Suite struct DashboardUsersTests {
    @Test func filtersSortsAndPagesAsTheJSONEndpoint() async throws {
        try await SampleFixture.serving { fixture, client in
            let users = fixture.expectedUsers
            let department = try #require(users.values.map(\.department).sorted().first)
            let inDepartment = users.filter { $0.value.department == department }.keys.sorted()
            let all = try await client.page("/ui/users")
            #expect(all.status == .ok)
            #expect(all.html.contains("\(users.count) users."))
            #expect(all.count("<tr data-user-id=") == min(users.count, 50))

            // A GET form sends every field, blank ones too: the same page as no filter.
            let blank = try await client.page("/ui/users?id=&department=&run_id=&sort=&limit=50")
            #expect(blank.status == .ok)
            #expect(blank.html.contains("\(users.count) users."))

            let filtered = try await client.page("/ui/users?department=\(DashboardTestURL.encode(department))")
            #expect(filtered.count("<tr data-user-id=") == inDepartment.count)
            for id in inDepartment { #expect(filtered.html.contains("<tr data-user-id=\"\(id)\">")) }
            #expect(filtered.html.contains("<option value=\"\(department)\" selected>"))

            let run = fixture.runs.last!.runID.rawValue
            let byRun = users.filter { $0.value.runID == run }.keys.sorted()
            let runPage = try await client.page("/ui/users?run_id=\(run)&limit=200")
            #expect(runPage.count("<tr data-user-id=") == byRun.count)

            // Sorted descending by id: the first row is the highest id, and the header links to ascending.
            let sorted = try await client.page("/ui/users?sort=-id&limit=25")
            let firstRow = try #require(sorted.section(from: "<tr data-user-id=", to: ">"))
            #expect(firstRow == "<tr data-user-id=\"\(users.keys.max()!)\">")
            #expect(sorted.html.contains("<a href=\"/ui/users?sort=id\">Id</a> ↓"))
            #expect(sorted.html.contains("<option value=\"-id\" selected>"))
            #expect(sorted.html.contains("href=\"/ui/users?sort=-id&amp;limit=25&amp;offset=25\">Next") == (users.count > 25))
        }
    }

    @Test func looksUpOneUserById() async throws {
        try await SampleFixture.serving(runCount: 2) { fixture, client in
            let id = try #require(fixture.expectedUsers.keys.sorted().first)
            let found = try await client.page("/ui/users?id=\(id)")
            #expect(found.status == .ok)
            #expect(found.count("<tr data-user-id=") == 1)
            #expect(found.html.contains("<tr data-user-id=\"\(id)\">"))
            let missing = try await client.page("/ui/users?id=999999")
            #expect(missing.status == .notFound)
            #expect(missing.html.contains("No user with id 999999."))
            #expect(try await client.page("/ui/users?id=1234567890123456789").status == .badRequest)
        }
    }
}

enum DashboardTestURL {
    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
    }
}
