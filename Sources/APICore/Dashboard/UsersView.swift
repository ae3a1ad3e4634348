import Foundation
import Hummingbird
import PipelineCore

extension DashboardRoutes {
    /// Columns of the users table: (sort column, header, right-aligned). The department's code
    /// is shown beside its name (sortable from the form's list, like every column of `/users`).
    static let userColumns: [(column: String, label: String, numeric: Bool)] = [
        ("id", "Id", true), ("full_name", "Name", false), ("email", "Email", false), ("age", "Age", true),
        ("department", "Department", false), ("bmi", "BMI", true),
        ("run_id", "Run", false), ("updated_at", "Updated", false),
    ]

    static let pageSizes = [25, 50, 100, 200]

    /// What the users page takes as an id (as documented in the OpenAPI document): at most 18
    /// digits, so every such id is an `Int64`.
    static let userIDPattern = "-?[0-9]{1,18}"

    static func isUserID(_ text: String) -> Bool {
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        return (1...18).contains(digits.count) && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// `/ui/users`: look a user up by `id`, or list users filtered by `department` and `run_id`,
    /// sorted by `sort` (the allow-list of `/users`), paged by `limit`/`offset`. An empty form
    /// field means no filter (a browser sends every field of a GET form).
    func usersPage(_ request: Request, _ resources: DashboardResources) async throws -> Response {
        let query = QueryParameters(query: request.uri.query)
        func given(_ name: String) -> String? { query.first(name).flatMap { $0.isEmpty ? nil : $0 } }
        let page = try query.pagination()
        let id: Int64?
        if let text = given("id") {
            guard Self.isUserID(text), let value = Int64(text) else {
                throw APIError.badParameter("id", in: "query", value: text, expected: "an integer of at most 18 digits")
            }
            id = value
        } else {
            id = nil
        }
        let department = given("department")
        let runID = given("run_id")
        let sortText = given("sort")
        let sort = try QueryParameters(query: sortText.map { "sort=" + DashboardLinks.encode($0) }).sort(allowed: Queries.userSortColumns)
        let masking = masking
        let (result, departments) = try await database.read { db in
            let result: Page<UserResource>
            if let id {
                let user = try Queries.user(db, id: id, masking: masking)
                result = Page(total: user == nil ? 0 : 1, items: user.map { [$0] } ?? [])
            } else {
                result = try Queries.users(db, department: department, runID: runID, page: page, sort: sort, masking: masking)
            }
            let departments = try Queries.userFacet(
                db, column: "department", department: nil, runID: nil, page: Pagination(limit: Pagination.maximumLimit, offset: 0))
            return (result, departments.items)
        }
        let filters: [(String, String?)] = [("department", department), ("run_id", runID), ("sort", sortText)]
        var context: [String: Any] = [
            "title": "Users",
            "inFlight": false,
            "form": ["id": id.map(String.init) ?? "", "runID": runID ?? ""],
            "departments": departments.compactMap { facet -> [String: Any]? in
                guard let value = facet.value else { return nil }
                return ["value": value, "count": String(facet.count), "selected": value == department]
            },
            "sortOptions": Self.sortOptions(selected: sortText ?? "id"),
            "limits": Self.pageSizes.map { ["value": String($0), "selected": $0 == page.limit] },
            "columns": Self.userColumns.map { column -> [String: Any] in
                let current = sort?.first?.column == column.column ? sort?.first : nil
                let next = current.map { $0.descending ? column.column : "-" + column.column } ?? column.column
                var header: [String: Any] = [
                    "label": column.label, "numeric": column.numeric,
                    "href": DashboardLinks.link("/ui/users", [("department", department), ("run_id", runID), ("sort", next)]),
                ]
                if let current { header["arrow"] = current.descending ? "↓" : "↑" }
                return header
            },
            "users": result.items.map(Self.userRow),
            "summary": id.map { result.total == 0 ? "No user with id \($0)." : "User \($0)." }
                ?? "\(result.total) users" + (department.map { " in \($0)" } ?? "") + (runID.map { ", last changed by run \($0)" } ?? "") + ".",
        ]
        if id == nil {
            context["pager"] = DashboardLinks.pager(path: "/ui/users", parameters: filters, page: page, total: result.total)
        }
        return DashboardPage.html(resources.render("users", context), status: id != nil && result.total == 0 ? .notFound : .ok)
    }

    /// Every column of the allow-list of `/users`, ascending and descending; a `sort` given in
    /// the URL that is not one of them (several columns) is kept as a further option.
    static func sortOptions(selected: String) -> [[String: Any]] {
        var options = Queries.userSortColumns.flatMap { column in
            [(column, column.replacingOccurrences(of: "_", with: " ") + " ↑"), ("-" + column, column.replacingOccurrences(of: "_", with: " ") + " ↓")]
        }
        if !options.contains(where: { $0.0 == selected }) { options.append((selected, selected)) }
        return options.map { value, label in ["value": value, "label": label, "selected": value == selected] }
    }

    static func userRow(_ user: UserResource) -> [String: Any] {
        [
            "id": String(user.id), "href": DashboardLinks.user(user.id), "fullName": user.fullName, "email": user.email,
            "age": String(user.age), "department": user.department, "departmentCode": user.departmentCode,
            "unknownCode": user.departmentCode == "UNKNOWN", "bmi": user.bmi.map { String(format: "%.1f", $0) } ?? "–",
            "runID": user.runID, "runHref": DashboardLinks.run(user.runID), "updatedAt": DashboardFormat.minute(user.updatedAt), "updatedAtFull": user.updatedAt,
        ]
    }
}
