import Foundation

/// The dashboard's links: paths with every id and query value percent-encoded (then HTML-escaped
/// by the template like any other value), and the previous/next links of a paged list.
enum DashboardLinks {
    /// RFC 3986's unreserved characters: everything else in a value is percent-encoded.
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static func run(_ id: String) -> String { "/ui/runs/" + encode(id) }

    static func user(_ id: Int) -> String { "/ui/users?id=\(id)" }

    /// `path?name=value&…` with the parameters that have a value, in the order given.
    static func link(_ path: String, _ parameters: [(String, String?)], fragment: String? = nil) -> String {
        let query = parameters.compactMap { name, value in value.map { "\(encode(name))=\(encode($0))" } }.joined(separator: "&")
        return path + (query.isEmpty ? "" : "?" + query) + (fragment.map { "#" + $0 } ?? "")
    }

    /// The pager partial's context: `previous`/`next` only where there is such a page (the
    /// default `limit` is left out of the links), and the rows shown.
    static func pager(
        path: String, parameters: [(String, String?)], page: Pagination, total: Int, fragment: String? = nil
    ) -> [String: Any] {
        let limit: String? = page.limit == Pagination.defaultLimit ? nil : String(page.limit)
        func at(_ offset: Int) -> String {
            link(path, parameters + [("limit", limit), ("offset", offset == 0 ? nil : String(offset))], fragment: fragment)
        }
        // `offset` can be as large as an Int holds: compare with what is left, never add to it.
        let shown = page.offset < total
        var context: [String: Any] = [
            "range": shown ? "\(page.offset + 1)–\(page.offset + min(page.limit, total - page.offset)) of \(total)" : "no rows here (\(total) in all)",
        ]
        if page.offset > 0 { context["previous"] = at(max(0, min(page.offset, total) - page.limit)) }
        if shown, total - page.offset > page.limit { context["next"] = at(page.offset + page.limit) }
        return context
    }
}
