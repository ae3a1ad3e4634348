import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program a test runs as a child process (a stage, the fixture, a tool: ``run(_:_:environment:)``),
/// to start, signal, kill and restart like an operator would.
///
/// It starts through perl, which clears the signal mask Foundation's `Process` leaves blocked, so
/// SIGTERM reaches the program's graceful shutdown. Output goes to files: a pipe read to EOF would
/// hang if a daemon the child starts inherited it. Waiting polls `isRunning`, never blocking a
/// thread of the cooperative pool.
public final class ChildProcess: @unchecked Sendable {
    public let name: String
    /// Standard output, and standard error unless `separateErrorLog` was asked for.
    public let logPath: String
    /// Standard error: `logPath + ".stderr"` when separate, else `logPath`.
    public let errorLogPath: String
    private let process = Process()
    /// Holds the logs when no `logPath` was given; removed with the value.
    private let ownDirectory: TemporaryDirectory?

    /// Starts `executable` with `arguments` and `environment` (plus `PATH`; nothing else of the
    /// test's environment leaks in), appending its output to `logPath` (a file in a temporary
    /// directory of its own when `nil`).
    public init(
        name: String, executable: String, arguments: [String] = [], environment: [String: String],
        logPath: String? = nil, separateErrorLog: Bool = false
    ) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ChildProcessError("\(executable) is missing: run `swift build --build-tests` first")
        }
        self.name = name
        ownDirectory = logPath == nil ? TemporaryDirectory("child-process") : nil
        self.logPath = logPath ?? ownDirectory!.file("log")
        errorLogPath = separateErrorLog ? self.logPath + ".stderr" : self.logPath
        let output = try Self.appending(to: self.logPath)
        defer { try? output.close() }
        let errors = separateErrorLog ? try Self.appending(to: errorLogPath) : output
        defer { try? errors.close() }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments = [
            "-MPOSIX", "-e", "sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die; exec { $ARGV[0] } @ARGV or die",
            executable,
        ] + arguments
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    private static func appending(to path: String) throws -> FileHandle {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        return handle
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    /// The exit status, or `nil` while it runs. A process killed by a signal reports the signal.
    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }
    /// Whether it exited or was killed by a signal, or `nil` while it runs.
    public var terminationReason: Process.TerminationReason? { process.isRunning ? nil : process.terminationReason }
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    public var errorLog: String { (try? String(contentsOfFile: errorLogPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits up to `timeout` for the process to exit; returns whether it did.
    public func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return !process.isRunning
    }

    /// Waits up to `limit` for the exit and returns its status; `nil` when the process still ran
    /// then, after killing it (SIGKILL) and waiting for it to go.
    public func exitStatus(within limit: Duration) async -> Int32? {
        if await waitForExit(timeout: limit) { return process.terminationStatus }
        await crash()
        return nil
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func stop(grace: Duration = .seconds(10)) async {
        signal(SIGTERM)
        if await waitForExit(timeout: grace) { return }
        signal(SIGKILL)
        _ = await waitForExit(timeout: .seconds(5))
    }

    /// SIGKILL and wait for the exit: a crash, as far as the program can tell.
    public func crash() async {
        signal(SIGKILL)
        _ = await waitForExit(timeout: .seconds(10))
    }

    /// For a `deinit` or `defer`, where nothing can be awaited: SIGKILL and reap.
    public func killNow() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Log lines containing `text`.
    public func lines(containing text: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { $0.contains(text) }
    }

    /// The last `count` lines of the log, for a failure message.
    public func tail(_ count: Int = 40) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(count).joined(separator: "\n")
    }
}

extension ChildProcess {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `executable` (a path, or a name in `PATH`) to its exit, `environment` added to this
    /// process's. Throws only when it cannot start (or the task is cancelled, which kills it).
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:]
    ) async throws -> Output {
        let environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let child = try ChildProcess(
            name: executable, executable: path(of: executable, in: environment["PATH"]),
            arguments: arguments, environment: environment, separateErrorLog: true)
        while child.isRunning {
            do {
                try await Task.sleep(for: .milliseconds(10))
            } catch {
                child.killNow()
                throw error
            }
        }
        return Output(status: child.process.terminationStatus, stdout: child.log, stderr: child.errorLog)
    }

    /// `executable` when it is a path, else the first executable of that name in `searchPath`
    /// (this process's `PATH` by default); unchanged when there is none.
    static func path(of executable: String, in searchPath: String? = ProcessInfo.processInfo.environment["PATH"]) -> String {
        guard !executable.contains("/") else { return executable }
        for directory in (searchPath ?? "/usr/bin:/bin").split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/\(executable)") {
            return "\(directory)/\(executable)"
        }
        return executable
    }
}

/// Runs blocking work (a long read or write, a wait) on a thread of its own and awaits its
/// result, so that no thread of the cooperative pool is held while it runs.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

public struct ChildProcessError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
