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

    static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

/// Path parameters arrive as sent, still percent-encoded.
enum PathParameter {
    static func decode(_ text: String) -> String {
        text.removingPercentEncoding ?? text
    }
}
