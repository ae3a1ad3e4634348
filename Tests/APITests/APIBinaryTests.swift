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
        let server = try APIProcess(environment: ["API_HOST": "127.0.0.1", "API_PORT": "\(port)", "DB_PATH": databasePath, "LOG_FORMAT": "json"])
        defer { server.kill() }

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

        #expect(server.terminate() == 0, "SIGTERM stops the server gracefully")
        let lines = server.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let requests = lines.filter { $0["msg"] as? String == "request" }
        #expect(requests.count >= 4)
        #expect(requests.contains { $0["method"] as? String == "GET" && $0["path"] as? String == "/etl_runs" && $0["status"] as? Int == 200 && $0["duration_ms"] is Double })
        #expect(lines.allSatisfy { $0["stage"] as? String == "api" || ($0["stage"] as? String)?.hasPrefix("api/") == true })
        // The access log redacts query values like every URL the stages log.
        #expect(requests.contains { $0["path"] as? String == "/users?department=***&limit=***" })
        #expect(!server.output.contains("Secret"))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "needs .build/debug/API (swift build)"))
    func aBadSettingStopsItNamingTheVariable() throws {
        for (name, value) in [
            ("API_PORT", "80000"), ("API_PORT", "http"), ("LOG_LEVEL", "loud"), ("API_IDLE_TIMEOUT_SECONDS", "0"),
            ("API_READ_TIMEOUT_SECONDS", "never"), ("API_MAX_CONNECTIONS", "0"), ("API_ALLOWED_HOSTS", "localhost:8000"),
        ] {
            let process = try APIProcess(environment: [name: value, "DB_PATH": "/nonexistent/data.db"])
            #expect(process.wait() != 0)
            #expect(process.errorOutput.contains("invalid \(name)=\"\(value)\""), "\(process.errorOutput)")
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

/// A port nothing listens on right now (bound to 0 and released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw Unexpected("socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw Unexpected("bind failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The API binary as a child process; its stdout and stderr are collected in files.
final class APIProcess: @unchecked Sendable {
    private let process = Process()
    private let directory = TemporaryDirectory("api-process")

    init(environment: [String: String], executable: String = APIBinaryTests.binary) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        var env = ProcessInfo.processInfo.environment
        for name in [
            "API_HOST", "API_PORT", "DB_PATH", "LOG_LEVEL", "LOG_FORMAT",
            "API_IDLE_TIMEOUT_SECONDS", "API_READ_TIMEOUT_SECONDS", "API_MAX_CONNECTIONS", "API_ALLOWED_HOSTS",
        ] { env[name] = nil }
        process.environment = env.merging(environment) { $1 }
        _ = FileManager.default.createFile(atPath: directory.file("out"), contents: nil)
        _ = FileManager.default.createFile(atPath: directory.file("err"), contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.file("out")))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.file("err")))
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: directory.file("out"), encoding: .utf8)) ?? "" }
    var errorOutput: String { (try? String(contentsOfFile: directory.file("err"), encoding: .utf8)) ?? "" }

    /// Waits (at most 20 s) for the process to exit and returns its status.
    @discardableResult
    func wait() -> Int32 {
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill()
            process.waitUntilExit()
            return -1
        }
        return process.terminationStatus
    }

    /// SIGTERM, then the exit status.
    func terminate() -> Int32 {
        process.terminate()
        return wait()
    }

    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }
}
