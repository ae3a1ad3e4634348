import Foundation

/// The redis-server the tests share (`TEST_REDIS_URL`, started by scripts/test.sh), and servers
/// of a test's own for tests that stop or restart one.
public enum RedisTestServer {
    /// `TEST_REDIS_URL`, or the default of scripts/test.sh.
    public static var url: String {
        ProcessInfo.processInfo.environment["TEST_REDIS_URL"] ?? "redis://127.0.0.1:16379/0"
    }

    /// ``url`` on database `database`, for a suite that flushes or scans a database of its own.
    public static func url(database: Int) -> String {
        url.replacingOccurrences(of: #"/\d*$"#, with: "", options: .regularExpression) + "/\(database)"
    }

    /// Runs `body` against a server of its own on a free port (``freePort()``), for tests that
    /// stop or restart Redis, so that the shared server stays up for every other suite running
    /// in parallel; stopped afterwards and its data directory removed.
    public static func withPrivateServer<T>(_ body: (_ url: String, _ port: Int) async throws -> T) async throws -> T {
        let port = try freePort()
        defer { try? FileManager.default.removeItem(atPath: repositoryRoot + "/.run/redis-\(port)") }
        try await start(port: port)
        do {
            let result = try await body("redis://127.0.0.1:\(port)/0", port)
            try await stop(port: port)
            return result
        } catch {
            try? await stop(port: port)
            throw error
        }
    }

    /// Stops the server and starts it again on the same port and data directory (AOF keeps the data).
    public static func restart(port: Int) async throws {
        try await script("stop", port: port)
        try await script("start", port: port)
    }

    public static func stop(port: Int) async throws { try await script("stop", port: port) }
    public static func start(port: Int) async throws { try await script("start", port: port) }

    /// Runs `scripts/redis.sh <action>` without blocking a cooperative thread while it runs.
    private static func script(_ action: String, port: Int) async throws {
        let output = try await ChildProcess.run(
            "/bin/bash", [repositoryRoot + "/scripts/redis.sh", action],
            environment: ["REDIS_PORT": String(port)])
        guard output.status == 0 else { throw ScriptFailed(action: action, status: output.status, output: output.stdout + output.stderr) }
    }

    public struct ScriptFailed: Error, CustomStringConvertible {
        public var action: String
        public var status: Int32
        public var output: String
        public var description: String { "scripts/redis.sh \(action) exited with \(status): \(output)" }
    }
}
