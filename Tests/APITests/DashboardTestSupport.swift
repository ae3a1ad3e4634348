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

/// scripts/check-html.py with the html5lib of `.run/html-venv` (scripts/install-deps.sh makes it).
enum StrictHTML {
    static let python = repositoryRoot + "/.run/html-venv/bin/python"
    static let script = repositoryRoot + "/scripts/check-html.py"

    /// Present here, or required anyway: in CI (`CI` set) a missing parser fails the test.
    static var shouldRun: Bool {
        FileManager.default.isExecutableFile(atPath: python) || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// The parser's complaints about each page (empty when every page parses with no error).
    static func problems(_ pages: [String: String]) async throws -> String {
        let directory = TemporaryDirectory("strict-html")
        var files: [String] = []
        for (name, html) in pages.sorted(by: { $0.key < $1.key }) {
            let file = directory.file(name + ".html")
            try html.write(toFile: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        let output = try await ChildProcess.run(python, [script] + files)
        return output.status == 0 ? "" : output.stdout + output.stderr
    }
}
