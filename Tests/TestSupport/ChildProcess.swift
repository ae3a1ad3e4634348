import Foundation

/// Runs helper programs from tests without blocking a thread of Swift's cooperative pool.
///
/// Swift Testing runs tests in parallel on that pool, which has one thread per core (two on a
/// small machine). `Process.waitUntilExit()` or reading a pipe to EOF would hold one of those
/// threads for as long as the child runs, and every other test's continuations and timers would
/// wait behind it. Here the wait is a continuation resumed by the process's termination handler,
/// and the output goes through temporary files, not pipes: a pipe read to EOF would also hang if
/// a daemon the child starts inherited it.
public enum ChildProcess {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` (a path, or a name looked up in `PATH`) with `arguments` and waits for
    /// it to exit. `environment` is added to this process's environment. Throws only when the
    /// program cannot be started; a non-zero exit is in the returned status.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:]
    ) async throws -> Output {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("test-child-process-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("stdout")
        let errURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)

        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = try FileHandle(forWritingTo: outURL)
        defer { try? out.close() }
        let err = try FileHandle(forWritingTo: errURL)
        defer { try? err.close() }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice

        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return Output(status: status, stdout: text(of: outURL), stderr: text(of: errURL))
    }

    private static func text(of url: URL) -> String {
        String(decoding: (try? Data(contentsOf: url)) ?? Data(), as: UTF8.self)
    }
}

/// Runs blocking work (a long read or write, a wait) on a thread of its own and awaits its
/// result, so that no thread of the cooperative pool is held while it runs.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
