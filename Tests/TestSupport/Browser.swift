import Foundation

/// Debian's headless chromium, driven by scripts/browser.py over the DevTools protocol on a pipe
/// (no debugging port is opened). Only ever pointed at the test's own API on 127.0.0.1.
public enum Browser {
    public static var installed: Bool { ChildProcess.path(of: "chromium").hasPrefix("/") }

    /// The browser tests run where chromium is installed, and always in CI (`CI` set), where a
    /// missing chromium fails them instead of skipping.
    public static var shouldRun: Bool { installed || ProcessInfo.processInfo.environment["CI"] != nil }

    public struct Page: Sendable {
        /// The DOM at the end, as `outerHTML`.
        public var dom: String
        /// Each distinct value the `watch` expression had, in order.
        public var watched: [String]
        /// Whether the `until` expression held before the time ran out (nil without one).
        public var until: Bool?
        /// Whether the document was replaced (a reload or navigation) after it first loaded.
        public var reloaded: Bool
    }

    /// Opens `url`; with `until`, polls that JavaScript expression until it is truthy.
    public static func open(_ url: String, until: String? = nil, watch: String? = nil, timeout: Int = 60) async throws -> Page {
        precondition(url.hasPrefix("http://127.0.0.1:"), "the browser only visits the test's own API")
        var arguments = [repositoryRoot + "/scripts/browser.py", "dom", url, "--timeout", String(timeout)]
        if let until { arguments += ["--until", until] }
        if let watch { arguments += ["--watch", watch] }
        let output = try await ChildProcess.run("python3", arguments)
        guard output.status == 0, let object = try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any] else {
            throw ChildProcessError("scripts/browser.py failed (\(output.status)) on \(url): \(output.stderr)")
        }
        return Page(
            dom: object["dom"] as? String ?? "", watched: (object["watched"] as? [Any] ?? []).map { "\($0)" },
            until: object["until"] as? Bool, reloaded: object["reloaded"] as? Bool ?? true)
    }
}

/// scripts/check-html.py with html5lib from `.run/html-venv` (scripts/install-deps.sh makes it).
public enum StrictHTMLCheck {
    public static let python = repositoryRoot + "/.run/html-venv/bin/python"

    /// Present here, or required anyway: in CI (`CI` set) a missing parser fails the test.
    public static var shouldRun: Bool {
        FileManager.default.isExecutableFile(atPath: python) || ProcessInfo.processInfo.environment["CI"] != nil
    }

    /// The parser's complaints about each page (empty when every page parses with no error).
    public static func problems(_ pages: [String: String]) async throws -> String {
        let directory = TemporaryDirectory("e2e-html")
        var files: [String] = []
        for (name, html) in pages.sorted(by: { $0.key < $1.key }) {
            files.append(directory.file(name + ".html"))
            try html.write(toFile: files.last!, atomically: true, encoding: .utf8)
        }
        let output = try await ChildProcess.run(python, [repositoryRoot + "/scripts/check-html.py"] + files)
        return output.status == 0 ? "" : output.stdout + output.stderr
    }
}
