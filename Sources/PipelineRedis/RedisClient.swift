import Dispatch

/// An async Redis client over one blocking hiredis connection.
///
/// hiredis blocks the calling thread for a whole round trip, so each client owns a serial
/// `DispatchQueue` that alone touches its hiredis context. Calls from many tasks are queued in
/// order on that one connection; a stage that needs parallel round trips uses several clients.
///
/// The connection is made on the first call. A call that fails because the connection broke
/// (server restarted, timeout) throws, and the next call connects again: the client never
/// re-sends a command on its own, because the failed one may already have been applied.
public final class RedisClient: Sendable {
    public let url: RedisURL
    public let connectTimeout: Duration
    /// Read/write timeout of each command. Blocking commands (`BLPOP …`) need a longer one than they block.
    public let commandTimeout: Duration
    private let connection: Connection

    public init(url: RedisURL, connectTimeout: Duration = .seconds(5), commandTimeout: Duration = .seconds(5)) {
        precondition(connectTimeout > .zero && commandTimeout > .zero, "Redis timeouts must be positive")
        self.url = url
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        connection = Connection(url: url, connectTimeout: connectTimeout, commandTimeout: commandTimeout)
    }

    /// Sends one command, e.g. `send(["HSET", key, "status", "extracting"])`, and returns its reply.
    ///
    /// - Throws: ``RedisError``: `.server` for an error reply (the connection stays open),
    ///   `.connectFailed`, `.timedOut` or `.connectionLost` (the next call reconnects), `.closed`.
    public func send(_ arguments: [any RedisArgument]) async throws -> RedisReply {
        precondition(!arguments.isEmpty, "a Redis command needs at least its name")
        let encoded = arguments.map(\.redisBytes)
        let connection = connection
        return try await connection.queue.run { try connection.execute(encoded).get() }
    }

    /// Sends one command: `send("INCR", key)`.
    public func send(_ command: String, _ arguments: any RedisArgument...) async throws -> RedisReply {
        try await send([command] + arguments)
    }

    /// Closes the connection once the calls already queued have run; later calls throw `.closed`.
    public func close() {
        let connection = connection
        connection.queue.async { connection.close() }
    }

    /// The queue-confined state: the hiredis context (if connected) and whether the client was closed.
    private final class Connection: @unchecked Sendable {
        // @unchecked: `context` and `isClosed` are touched only on `queue`, a serial queue, which
        // the `dispatchPrecondition`s check.
        let queue: DispatchQueue
        private let url: RedisURL
        private let connectTimeout: Duration
        private let commandTimeout: Duration
        private var context: RedisContext?
        private var isClosed = false

        init(url: RedisURL, connectTimeout: Duration, commandTimeout: Duration) {
            self.url = url
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            queue = DispatchQueue(label: "redis \(url.endpoint)")
        }

        func execute(_ arguments: [[UInt8]]) -> Result<RedisReply, RedisError> {
            dispatchPrecondition(condition: .onQueue(queue))
            guard !isClosed else {
                return .failure(RedisError(kind: .closed, endpoint: url.endpoint, command: RedisContext.commandName(arguments), message: "client is closed"))
            }
            do throws(RedisError) {
                if context == nil {
                    context = try RedisContext.connect(to: url, connectTimeout: connectTimeout, commandTimeout: commandTimeout)
                }
                return .success(try context!.command(arguments))
            } catch {
                if context?.isBroken == true { context = nil }
                return .failure(error)
            }
        }

        func close() {
            dispatchPrecondition(condition: .onQueue(queue))
            isClosed = true
            context = nil
        }
    }
}
