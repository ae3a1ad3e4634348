import APICore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport

/// A page of the dashboard as the router answered it.
struct DashboardAnswer {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var html: String

    var contentType: String? { headers[.contentType] }

    /// The text between the first `<tr data-run-id="id">` and its `</tr>`.
    func runRow(_ id: String) -> String? { section(from: "<tr data-run-id=\"\(id)\">", to: "</tr>") }

    func section(from start: String, to end: String) -> String? {
        guard let a = html.range(of: start), let b = html.range(of: end, range: a.upperBound..<html.endIndex) else { return nil }
        return String(html[a.lowerBound..<b.upperBound])
    }

    /// How many times `text` occurs.
    func count(_ text: String) -> Int { html.components(separatedBy: text).count - 1 }
}

extension TestClientProtocol {
    func page(_ uri: String) async throws -> DashboardAnswer {
        let response = try await execute(uri: uri, method: .get)
        return DashboardAnswer(status: response.status, headers: response.headers, html: String(buffer: response.body))
    }
}
