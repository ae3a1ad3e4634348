import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A program of the pipeline (a stage, the API or the DummyJSON fixture) running as a child
/// process, its output in a log file, so a test can start, signal, kill and restart it like an
/// operator would.
///
/// The child starts through perl, which clears the signal mask Foundation's `Process` leaves
/// blocked in the child, so SIGTERM reaches the program's graceful shutdown as in production.
/// Waiting never blocks a thread of the cooperative pool: it polls `isRunning`.
public final class StageProcess: @unchecked Sendable {
    public let name: String
    public let logPath: String
    private let process = Process()

    /// Starts `executable` with `arguments` and `environment` (plus `PATH`; nothing else of the
    /// test's environment leaks in), appending its output to `logPath`.
    public init(name: String, executable: String, arguments: [String] = [], environment: [String: String], logPath: String) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw StageProcessError("\(executable) is missing: run `swift build --build-tests` first")
        }
        self.name = name
        self.logPath = logPath
        if !FileManager.default.fileExists(atPath: logPath) {
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? output.close() }
        try output.seekToEnd()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments = [
            "-MPOSIX", "-e", "sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die; exec { $ARGV[0] } @ARGV or die",
            executable,
        ] + arguments
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    /// The exit status, or `nil` while it runs. A process killed by a signal reports the signal.
    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

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

public struct StageProcessError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
