import Foundation

/// The redis-server the tests talk to, and a way to restart it.
///
/// The URL comes from `TEST_REDIS_URL` (default `redis://127.0.0.1:16379/0`); start the server
/// first with `REDIS_PORT=16379 scripts/redis.sh start`. ``restart()`` stops and starts it
/// through the same script, so tests that restart it must not run beside other tests that use
/// it (keep them in one `.serialized` suite).
public enum RedisTestServer {
    public static let defaultURL = "redis://127.0.0.1:16379/0"

    /// `TEST_REDIS_URL` or the default.
    public static var url: String {
        ProcessInfo.processInfo.environment["TEST_REDIS_URL"] ?? defaultURL
    }

    /// The port in ``url`` (6379 when it has none), passed to the script as `REDIS_PORT`.
    public static var port: Int {
        URLComponents(string: url)?.port ?? 6379
    }

    /// The repository root, found from this file's path (`Tests/TestSupport/…`).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `body` against a server of its own on a free port (``freePort()``), for tests that
    /// stop or restart Redis, so that the shared server stays up for every other suite running
    /// in parallel; stopped afterwards and its data directory removed.
    public static func withPrivateServer<T>(_ body: (_ url: String, _ port: Int) async throws -> T) async throws -> T {
        let port = try freePort()
        defer { try? FileManager.default.removeItem(at: repositoryRoot.appendingPathComponent(".run/redis-\(port)")) }
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
    public static func restart(port: Int = port) async throws {
        try await script("stop", port: port)
        try await script("start", port: port)
    }

    public static func stop(port: Int = port) async throws { try await script("stop", port: port) }
    public static func start(port: Int = port) async throws { try await script("start", port: port) }

    /// Runs `scripts/redis.sh <action>` without blocking a cooperative thread while it runs.
    private static func script(_ action: String, port: Int) async throws {
        let output = try await ChildProcess.run(
            "/bin/bash", [repositoryRoot.appendingPathComponent("scripts/redis.sh").path, action],
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
