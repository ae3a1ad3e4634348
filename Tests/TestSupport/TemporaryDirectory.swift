import Foundation

/// A fresh directory under the system temp dir, removed when the value is released.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init(_ label: String = "etl-test") {
        path = NSTemporaryDirectory() + "\(label)-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { "\(path)/\(name)" }
}

/// Runs a command to completion and returns its standard output; throws on a non-zero exit.
/// Waits without blocking a thread of the cooperative pool (see ``ChildProcess``).
@discardableResult
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> String {
    let output = try await ChildProcess.run(executable, arguments, environment: environment ?? [:])
    guard output.status == 0 else {
        throw CommandFailed(command: ([executable] + arguments).joined(separator: " "), status: output.status, stderr: output.stderr)
    }
    return output.stdout
}

public struct CommandFailed: Error, CustomStringConvertible {
    public var command: String
    public var status: Int32
    public var stderr: String
    public var description: String { "\(command) exited \(status): \(stderr)" }
}

/// SHA-256 of a file computed by coreutils, independent of the code under test.
public func sha256sum(_ path: String) async throws -> String {
    String(try await runCommand("sha256sum", [path]).prefix(64))
}

/// The repository root, found from this source file's location.
public let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
