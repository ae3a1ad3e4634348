import APICore
import APITestData
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PipelineJSON
import Testing
import TestSupport

/// Upstream data is hostile (the fixture's `--hostile` mode): every value a page shows is
/// escaped, in text and in attributes, and a stored payload is served masked exactly as the JSON
/// API serves it. Also: every page parses with no error under a strict HTML5 parser.
@Suite struct DashboardEscapingTests {
    static let hostile = [
        "<script>window.pwned=1</script>", "\"><img src=x onerror=window.pwned=2>", "' onmouseover='window.pwned=3",
        "</title><svg onload=window.pwned=4>",
    ]

    /// Sample runs with hostile text in a user's name and department, a rejection's reason, an
    /// event, a file name and a run's error, and an unmasked secret in a rejected row (as a buggy
    /// stage could have stored it).
    static func hostileDatabase() async throws -> (TemporaryDirectory, String, [SampleRun]) {
        var runs = SampleRunGenerator(usersPerRun: 6).runs(count: 4)
        let h = hostile
        // Users in the last completed run, whose rows the users table keeps.
        runs[2].userLines[0] = try set(runs[2].userLines[0], ["full_name": .string(h[0]), "company": ["department": .string(h[1]), "name": "Evil <Corp>"]])
        runs[2].userLines[1] = try set(runs[2].userLines[1], ["email": .string(h[2])])
        var reasons = try JSONValue.parse(runs[0].dlqLines[0])["reasons"]?.arrayValue ?? []
        reasons.append(["field": .string(h[3]), "rule": .string(h[1]), "message": .string(h[0])])
        let payload = try set(JSONWriter.string(JSONValue.parse(runs[0].dlqLines[0])["payload"] ?? .null), ["ssn": "123-45-6789"])
        runs[0].dlqLines[0] = try set(runs[0].dlqLines[0], ["reasons": .array(reasons), "payload": try JSONValue.parse(payload)])
        runs[0].events[1].detail = h[1]
        runs[0].remoteFiles[0].name = h[3]
        runs[3].error = h[0] + h[1]
        let directory = TemporaryDirectory("dashboard-hostile")
        let path = directory.file("database/data.db")
        try await SampleDatabase.write(runs, to: path)
        return (directory, path, runs)
    }

    static func set(_ line: String, _ values: [String: JSONValue]) throws -> String {
        guard case .object(var members) = try JSONValue.parse(line) else { throw CocoaError(.coderInvalidValue) }
        for (key, value) in values.sorted(by: { $0.key < $1.key }) {
            if let index = members.firstIndex(where: { $0.key == key }) {
                members[index].value = value
            } else {
                members.append(JSONMember(key, value))
            }
        }
        return JSONWriter.string(.object(members))
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: "'", with: "&#39;")
    }

    @Test func hostileValuesRenderInertAndPayloadsStayMasked() async throws {
        let (directory, path, runs) = try await Self.hostileDatabase()
        _ = directory
        let logger = LogCapture().logger
        let app = Application(router: APIServer.router(database: LazyReader(path: path), logger: logger))
        let run = runs[0].runID.rawValue
        try await app.test(.router) { client in
            let department = DashboardTestURL.encode(Self.hostile[1])
            let pages = [
                try await client.page("/ui/"), try await client.page("/ui/runs/\(run)"), try await client.page("/ui/runs/\(runs[3].runID)"),
                try await client.page("/ui/users?limit=200"), try await client.page("/ui/users?department=\(department)"),
            ]
            for page in pages { #expect(page.status == .ok) }
            let all = pages.map(\.html).joined()
            for text in Self.hostile {
                #expect(!all.contains(text), "\(text) appears unescaped")
            }
            // Each value is there, escaped (quotes too, for attribute values).
            for (page, text) in [(1, Self.hostile[0]), (1, Self.hostile[1]), (1, Self.hostile[3]), (2, Self.hostile[0] + Self.hostile[1]),
                                 (3, Self.hostile[0]), (3, Self.hostile[1]), (3, Self.hostile[2]), (4, Self.hostile[0])] {
                #expect(pages[page].html.contains(Self.escaped(text)), "page \(page): \(text)")
            }
            #expect(pages[4].html.contains("<option value=\"\(Self.escaped(Self.hostile[1]))\" selected>"))
            #expect(pages[4].count("<tr data-user-id=") == 1)
            // No element came from the data: one script (ours), no image, no svg with a handler, and
            // no attribute the data could have opened (its quotes are entities).
            for page in pages {
                #expect(page.count("<script") == 1)
                #expect(!page.html.contains("<img") && !page.html.contains("<svg onload") && !page.html.contains("='window"))
            }

            // The rejected row's payload: masked as the JSON API masks it, never the stored secret.
            #expect(!pages[1].html.contains("123-45-6789") && !pages[1].html.contains("123-45"))
            let json = try await client.execute(uri: "/etl_runs/\(run)/dlq?limit=1", method: .get)
            let served = try #require(try JSONValue.parse(String(buffer: json.body)).arrayValue?.first?["payload"])
            #expect(served["ssn"]?.stringValue == "*******6789")
            #expect(pages[1].html.contains("<code class=\"payload\">\(Self.escaped(JSONWriter.string(served)))</code>"))
        }
    }

    /// The same pages in a real browser (Debian's chromium) from the real `API` binary: no element
    /// came from the data and none of its script ran.
    @Test(.enabled(if: Browser.shouldRun && FileManager.default.isExecutableFile(atPath: APIBinaryTests.binary),
                   "needs chromium (scripts/install-deps.sh; required when CI is set) and .build/debug/API"))
    func hostileValuesStayInertInABrowser() async throws {
        let (directory, path, runs) = try await Self.hostileDatabase()
        _ = directory
        let port = try freePort()
        let server = try ChildProcess.api(environment: ["API_HOST": "127.0.0.1", "API_PORT": String(port), "DB_PATH": path], executable: APIBinaryTests.binary)
        defer { server.killNow() }
        let base = "http://127.0.0.1:\(port)"
        guard try await eventually(within: .seconds(30), {
            try await ChildProcess.run("curl", ["-fsS", "--max-time", "2", base + "/health"]).status == 0
        }) else { throw ChildProcessError("the API did not start: \(server.errorLog)") }
        let probe = """
            JSON.stringify({pwned: window.pwned === undefined ? 0 : window.pwned, images: document.images.length, \
            scripts: document.scripts.length, handlers: document.querySelectorAll('[onerror],[onload],[onmouseover]').length, \
            foreignSVG: document.querySelectorAll('svg:not(.phase-bars):not(.chart)').length, text: document.body.innerText})
            """
        for path in ["/ui/users?limit=200", "/ui/runs/\(runs[0].runID)", "/ui/runs/\(runs[3].runID)", "/ui/"] {
            let page = try await Browser.open(base + path, watch: probe, timeout: 60)
            let seen = try #require(page.watched.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            #expect(seen["pwned"] as? Int == 0, "\(path)")
            #expect(seen["images"] as? Int == 0 && seen["handlers"] as? Int == 0 && seen["foreignSVG"] as? Int == 0, "\(path): \(seen)")
            #expect(seen["scripts"] as? Int == 1, "\(path)")
            if path.hasPrefix("/ui/users") {
                // The text shows as typed.
                let text = seen["text"] as? String ?? ""
                #expect(text.contains(Self.hostile[0]) && text.contains(Self.hostile[2]), "\(path)")
            }
        }
    }

    @Test(.enabled(if: StrictHTMLCheck.shouldRun, "html5lib missing: run scripts/install-deps.sh (required when CI is set)"))
    func everyPageParsesWithNoErrorUnderAStrictParser() async throws {
        let (directory, path, runs) = try await Self.hostileDatabase()
        _ = directory
        let app = Application(router: APIServer.router(database: LazyReader(path: path), logger: LogCapture().logger))
        var pages = try await app.test(.router) { client in
            var pages: [String: String] = [:]
            let uris = [
                "runs": "/ui/", "run": "/ui/runs/\(runs[0].runID)", "failed-run": "/ui/runs/\(runs[3].runID)",
                "run-paged": "/ui/runs/\(runs[0].runID)?limit=1&offset=1", "users": "/ui/users", "users-sorted": "/ui/users?sort=-age&department=Engineering",
                "user": "/ui/users?id=2", "user-missing": "/ui/users?id=999", "error-400": "/ui/?limit=abc", "error-404": "/ui/runs/none",
                "error-404-path": "/ui/no/such/page",
            ]
            for (name, uri) in uris { pages[name] = try await client.page(uri).html }
            return pages
        }
        let empty = LazyReader(path: directory.file("missing.db"))
        pages["error-503"] = try await Application(router: APIServer.router(database: empty, logger: LogCapture().logger)).test(.router) { client in
            try await client.page("/ui/").html
        }
        #expect(pages.count == 12)
        let problems = try await StrictHTMLCheck.problems(pages)
        #expect(problems.isEmpty, "\(problems)")
    }
}
