#if canImport(Glibc)
import Glibc
#endif

/// Why a recipient was refused or an encryption did not complete. Every message names what to
/// fix; none holds file contents.
public enum AgeError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidRecipient(String, reason: String)
    case noRecipients
    /// The `age` executable is not on `PATH`.
    case toolNotFound(String)
    /// A system call on the child process or its pipes failed.
    case system(call: String, errno: Int32)
    /// The tool exited with a status other than 0 (or by a signal); `message` is what it wrote
    /// to standard error.
    case toolFailed(status: String, message: String)
    /// The tool neither took input nor gave output for the whole timeout.
    case stalled(seconds: Int)
    /// The stream was used after ``AgeEncryptor/finish(into:)`` or a failure.
    case closed

    public var description: String {
        switch self {
        case let .invalidRecipient(key, reason):
            "invalid age recipient \"\(key)\": \(reason)"
        case .noRecipients:
            "no age recipient given"
        case let .toolNotFound(tool):
            "the age tool (`\(tool)`) was not found on PATH; install Debian's `age` package"
        case let .system(call, code):
            "\(call) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .toolFailed(status, message):
            "age \(status)" + (message.isEmpty ? "" : ": \(message)")
        case let .stalled(seconds):
            "age took no input and gave no output for \(seconds) s"
        case .closed:
            "the age stream is already finished or failed"
        }
    }
}
