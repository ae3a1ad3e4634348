import Foundation
import PipelineCore

/// The query string of a request, decoded the way HTML forms and HTTP clients encode it
/// (`+` is a space, then `%XX`), with the API's validation of each parameter.
///
/// A parameter given twice takes its first value; parameters the endpoint does not know are
/// ignored. Every rejection is a 400 naming the parameter (``APIError/badParameter(_:in:value:expected:)``).
public struct QueryParameters: Sendable {
    private var pairs: [(name: String, value: String)]

    public init(query: String?) {
        pairs = (query ?? "").split(separator: "&", omittingEmptySubsequences: true).map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.decode(parts[0]), parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    public func first(_ name: String) -> String? {
        pairs.first(where: { $0.name == name })?.value
    }

    /// `limit` (1...500, default 50) and `offset` (0 or more, default 0).
    public func pagination() throws(APIError) -> Pagination {
        var page = Pagination()
        if let text = first("limit") {
            guard let value = Int(text), (1...Pagination.maximumLimit).contains(value) else {
                throw APIError.badParameter("limit", in: "query", value: text, expected: "an integer in 1...\(Pagination.maximumLimit)")
            }
            page.limit = value
        }
        if let text = first("offset") {
            guard let value = Int(text), value >= 0 else {
                throw APIError.badParameter("offset", in: "query", value: text, expected: "an integer of 0 or more")
            }
            page.offset = value
        }
        return page
    }

    /// `status`: one of the run statuses, when given.
    public func runStatus() throws(APIError) -> String? {
        guard let text = first("status") else { return nil }
        guard RunStatus(rawValue: text) != nil else {
            throw APIError.badParameter(
                "status", in: "query", value: text, expected: "one of " + RunStatus.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return text
    }

    /// A filter that must not be empty when given (`department`, `run_id`).
    public func filter(_ name: String) throws(APIError) -> String? {
        guard let text = first(name) else { return nil }
        guard !text.isEmpty else {
            throw APIError.badParameter(name, in: "query", value: text, expected: "a non-empty string")
        }
        return text
    }

    /// `sort`: comma-separated columns of `allowed`, each ascending or, with a leading `-`,
    /// descending (`sort=department,-age`). Anything else is a 400 listing the allowed columns.
    public func sort(allowed: [String]) throws(APIError) -> [SortKey]? {
        guard let text = first("sort") else { return nil }
        var keys: [SortKey] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let descending = item.hasPrefix("-")
            let column = String(descending ? item.dropFirst() : item)
            guard allowed.contains(column) else {
                throw APIError.notAllowed(
                    "sort", in: "query", value: text,
                    expected: "comma-separated columns, each ascending or, prefixed by -, descending, of: " + allowed.joined(separator: ", "),
                    allowed: allowed)
            }
            keys.append(SortKey(column: column, descending: descending))
        }
        return keys
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

/// One column of an `ORDER BY`, from the allow-list of an endpoint (never a client's text).
public struct SortKey: Sendable, Equatable {
    public var column: String
    public var descending: Bool

    public init(column: String, descending: Bool = false) {
        self.column = column
        self.descending = descending
    }

    /// `ORDER BY` text: the keys, then `tieBreak` (the primary key) ascending so equal keys keep
    /// one order from page to page.
    static func orderBy(_ keys: [SortKey], tieBreak: String) -> String {
        (keys.map { "\($0.column) \($0.descending ? "DESC" : "ASC")" } + ["\(tieBreak) ASC"]).joined(separator: ", ")
    }
}

/// Path parameters arrive as sent, still percent-encoded.
enum PathParameter {
    static func decode(_ text: String) -> String {
        text.removingPercentEncoding ?? text
    }
}
