import APITestData
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The real `API` executable (built by `swift build --build-tests`), on 127.0.0.1 and a free port.
@Suite(.serialized) struct APIBinaryTests {
    static let binary = repositoryRoot + "/.build/debug/API"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "needs .build/debug/API (swift build)"))
    func startsBeforeTheDatabaseServesItOnceWrittenAndStopsOnSIGTERM() async throws {
        let directory = TemporaryDirectory("api-binary")
        let databasePath = directory.file("database/data.db")
        let port = try freePort()
        let server = try ChildProcess.api(environment: ["API_HOST": "127.0.0.1", "API_PORT": "\(port)", "DB_PATH": databasePath, "LOG_FORMAT": "json"])
        defer { server.killNow() }

        let before = try await get(port: port, "/health", waitingUpTo: .seconds(30))
        #expect(before.status == .ok)
        #expect(text(before).contains(#""database":"not_ready""#))
        #expect(try await get(port: port, "/etl_runs").status == .serviceUnavailable)

        try await SampleDatabase.write(runCount: 4, to: databasePath)
        let runs = try await get(port: port, "/etl_runs")
        #expect(runs.status == .ok)
        #expect(try await get(port: port, "/users?department=Secret%20Dept&limit=3").status == .ok)
        #expect(runs.headers[HTTPField.Name("X-Total-Count")!] == "4")
        #expect(text(try await get(port: port, "/health")).contains(#""database":"ready""#))

        #expect(await server.terminate() == 0, "SIGTERM stops the server gracefully")
        let lines = server.log.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let requests = lines.filter { $0["msg"] as? String == "request" }
        #expect(requests.count >= 4)
        #expect(requests.contains { $0["method"] as? String == "GET" && $0["path"] as? String == "/etl_runs" && $0["status"] as? Int == 200 && $0["duration_ms"] is Double })
        #expect(lines.allSatisfy { $0["stage"] as? String == "api" || ($0["stage"] as? String)?.hasPrefix("api/") == true })
        // The access log redacts query values like every URL the stages log.
        #expect(requests.contains { $0["path"] as? String == "/users?department=***&limit=***" })
        #expect(!server.log.contains("Secret"))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "needs .build/debug/API (swift build)"))
    func aBadSettingStopsItNamingTheVariable() async throws {
        for (name, value) in [
            ("API_PORT", "80000"), ("API_PORT", "http"), ("LOG_LEVEL", "loud"), ("API_IDLE_TIMEOUT_SECONDS", "0"),
            ("API_READ_TIMEOUT_SECONDS", "never"), ("API_MAX_CONNECTIONS", "0"), ("API_ALLOWED_HOSTS", "localhost:8000"),
        ] {
            let process = try ChildProcess.api(environment: [name: value, "DB_PATH": "/nonexistent/data.db"])
            #expect(await process.wait() != 0)
            #expect(process.errorLog.contains("invalid \(name)=\"\(value)\""), "\(process.errorLog)")
        }
    }

    private func get(port: Int, _ path: String, waitingUpTo patience: Duration = .seconds(5)) async throws -> TestClient.Response {
        let deadline = ContinuousClock.now + patience
        while true {
            do {
                return try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(5))) { client in
                    try await client.get(path)
                }
            } catch {
                if ContinuousClock.now > deadline { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}

func text(_ response: TestClient.Response) -> String {
    response.body.map { String(buffer: $0) } ?? ""
}

extension ChildProcess {
    /// The API binary as a child process: this test process's environment without the API's own
    /// settings, plus `environment`; its stdout and stderr in separate files.
    static func api(environment: [String: String], executable: String = APIBinaryTests.binary) throws -> ChildProcess {
        var inherited = ProcessInfo.processInfo.environment
        for name in [
            "API_HOST", "API_PORT", "DB_PATH", "LOG_LEVEL", "LOG_FORMAT",
            "API_IDLE_TIMEOUT_SECONDS", "API_READ_TIMEOUT_SECONDS", "API_MAX_CONNECTIONS", "API_ALLOWED_HOSTS",
        ] { inherited[name] = nil }
        return try ChildProcess(name: "api", executable: executable, environment: inherited.merging(environment) { $1 }, separateErrorLog: true)
    }

    /// Waits (at most 20 s) for the process to exit and returns its status; -1 when it had to be killed.
    @discardableResult
    func wait() async -> Int32 {
        await exitStatus(within: .seconds(20)) ?? -1
    }

    /// SIGTERM, then the exit status.
    func terminate() async -> Int32 {
        signal(SIGTERM)
        return await wait()
    }
}
