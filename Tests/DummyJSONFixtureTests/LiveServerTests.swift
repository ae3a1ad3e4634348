import DummyJSONFixture
import Foundation
import Testing
import TestSupport

/// The fixture on a real socket (127.0.0.1, free port): in-process, and as the `DummyJSON`
/// executable started as a subprocess.
@Suite struct LiveServerTests {
    @Test func runsInProcessOnAFreePort() async throws {
        let config = FixtureConfiguration(users: 20, badFraction: 0.1)
        try await withLiveFixture(config) { server, port in
            #expect(port > 0)
            let health = try await rawRequest(port: port, path: "/health")
            #expect(health.status == 200)

            let page = try await rawRequest(port: port, path: "/users?limit=0")
            #expect(page.status == 200)
            #expect(page.contentLength == page.body.count)
            #expect(page.body == server.users.pageBytes(PageWindow(total: 20, skip: 0, limit: 0)))
            #expect(page.headers["x-fixture-request"] == "1")

            let put = try await rawRequest(port: port, method: "PUT", path: "/_fixture/faults", body: #"{"rateLimit": 1}"#)
            #expect(put.status == 200)
            let limited = try await rawRequest(port: port, path: "/users/1")
            #expect(limited.status == 200)
            let refused = try await rawRequest(port: port, path: "/users/1")
            #expect(refused.status == 429)
            #expect(refused.headers["retry-after"] == "10")
        }
    }

    @Test func twoFixturesRunSideBySide() async throws {
        try await withLiveFixture(FixtureConfiguration(seed: 1)) { _, portA in
            try await withLiveFixture(FixtureConfiguration(seed: 2)) { _, portB in
                #expect(portA != portB)
                let a = try await rawRequest(port: portA, path: "/users/1")
                let b = try await rawRequest(port: portB, path: "/users/1")
                #expect(a.status == 200 && b.status == 200)
                #expect(a.body != b.body)
            }
        }
    }

    /// The built `DummyJSON` executable, next to the test bundle (`swift build --build-tests`
    /// builds it).
    static var executable: URL? {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for directory in [bundleDirectory, bundleDirectory.deletingLastPathComponent(), Bundle.main.bundleURL.deletingLastPathComponent()] {
            let candidate = directory.appendingPathComponent("DummyJSON")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    @Test(.enabled(if: executable != nil, "the DummyJSON executable is not built"), .timeLimit(.minutes(1)))
    func executablePrintsItsPortAndStopsOnSIGTERM() async throws {
        let executable = try #require(Self.executable)
        // the environment is read, and a flag beats it
        let process = try ChildProcess(
            name: "dummyjson", executable: executable.path, arguments: ["--port", "0", "--seed", "9", "--bad-fraction", "0.25"],
            environment: ["FIXTURE_USERS": "40", "FIXTURE_SEED": "3", "FIXTURE_HOST": "127.0.0.1", "FIXTURE_LOG_LEVEL": "error"],
            separateErrorLog: true)
        defer { process.killNow() }

        // The first line of its standard output.
        try #require(try await eventually(within: .seconds(30)) { process.log.contains("\n") || !process.isRunning },
                     "no line on stdout")
        let line = try #require(process.log.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init))
        let match = try #require(try Regex(#"dummyjson fixture listening on http://127\.0\.0\.1:(\d+)/users \(users=40 bad=0\.25 seed=9\)"#).wholeMatch(in: line))
        let portText = try #require(match.output[1].substring)
        let port = try #require(Int(portText))

        let page = try await rawRequest(port: port, path: "/users?limit=0&select=id")
        #expect(page.status == 200)
        let body = try JSON.parse(page.body)
        #expect(body["total"]?.int == 40)
        let local = try FixtureUsers(count: 40, seed: 9, badFraction: 0.25)
        #expect(try JSON.parse(try await rawRequest(port: port, path: "/users/2").body) == (try JSON.parse(local.userBytes(at: 1))))

        process.signal(SIGTERM)  // graceful shutdown
        let status = await process.exitStatus(within: .seconds(30))
        #expect(status == 0)
    }
}
