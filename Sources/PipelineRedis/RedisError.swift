/// A failed Redis call, saying where (`host:port`), which command, and what went wrong.
///
/// The text names the command but never its arguments: keys and values may hold pipeline
/// data or secrets, and these errors end up in logs and in the ledger's `error` field.
/// Examples:
///
///     redis 127.0.0.1:16379: connect failed: Connection refused
///     redis 127.0.0.1:16379: GET: timed out after 2 s
///     redis 127.0.0.1:16379: SET: server error: WRONGTYPE Operation against a key holding the wrong kind of value
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The TCP connection could not be made (refused, unreachable, connect timeout, bad host).
        case connectFailed
        /// No reply within the command timeout; the connection was dropped (its reply may still come).
        case timedOut
        /// The connection broke mid-command (server restarted, reset, closed).
        case connectionLost
        /// The server answered something hiredis could not parse.
        case protocolError
        /// The server answered with an error reply (`ERR`, `WRONGTYPE`, `NOSCRIPT`, `WRONGPASS`…).
        case server
        /// The reply had a shape the typed helper did not expect.
        case unexpectedReply
        /// The client or subscriber was closed.
        case closed
    }

    public var kind: Kind
    /// `host:port` of the server.
    public var endpoint: String
    /// The command's name (`GET`, `EVAL`…), `nil` for connect failures.
    public var command: String?
    /// hiredis' `errstr`, the server's error reply, or what was wrong with the reply.
    public var message: String

    public init(kind: Kind, endpoint: String, command: String?, message: String) {
        self.kind = kind
        self.endpoint = endpoint
        self.command = command
        self.message = message
    }

    public var description: String {
        let detail = switch kind {
        case .connectFailed: "connect failed: \(message)"
        case .timedOut: message
        case .connectionLost: "connection lost: \(message)"
        case .protocolError: "protocol error: \(message)"
        case .server: "server error: \(message)"
        case .unexpectedReply: "unexpected reply: \(message)"
        case .closed: message
        }
        return "redis \(endpoint): \(command.map { "\($0): " } ?? "")\(detail)"
    }

    /// Whether trying again later may succeed: the server was unreachable, the connection
    /// broke, or the server said it cannot answer yet (``transientServerErrors``: `LOADING`
    /// while a restarted server reads its AOF back). Other server errors and unexpected replies
    /// are permanent. A timed-out or lost write may or may not have been applied, so callers
    /// retry only idempotent work.
    public var isTransient: Bool {
        switch kind {
        case .connectFailed, .timedOut, .connectionLost: true
        case .server: serverErrorCode.map(Self.transientServerErrors.contains) ?? false
        case .protocolError, .unexpectedReply, .closed: false
        }
    }

    /// Server error codes that mean "not now" rather than "never": the server is loading its
    /// data set, a cluster slot is moving, or a replica lost its primary.
    public static let transientServerErrors: Set<String> = ["LOADING", "TRYAGAIN", "MASTERDOWN"]

    /// The first word of a server error reply (`WRONGTYPE`, `NOSCRIPT`, `ERR`…), `nil` for other kinds.
    public var serverErrorCode: String? {
        guard kind == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }
}
