import CHiredis
import PipelineCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one blocking hiredis `redisContext*`: connect (with AUTH and SELECT), send a command,
/// read a reply, and turn hiredis' error state into a ``RedisError``.
///
/// Not thread-safe and deliberately not `Sendable`: each instance is created and used by one
/// owner that runs on a thread of its own (``RedisClient``'s serial queue, ``RedisSubscriber``'s
/// thread), because every call here blocks. hiredis marks a context unusable after any I/O or
/// protocol error; the owner then drops it (``isBroken``) and connects afresh.
final class RedisContext {
    private let pointer: UnsafeMutablePointer<redisContext>
    let endpoint: String
    let commandTimeout: Duration

    private init(pointer: UnsafeMutablePointer<redisContext>, endpoint: String, commandTimeout: Duration) {
        self.pointer = pointer
        self.endpoint = endpoint
        self.commandTimeout = commandTimeout
    }

    // Once the initialiser has run, `deinit` is the only place that frees the context, so a
    // failed AUTH after connecting cannot free it twice.
    deinit { redisFree(pointer) }

    /// Connects, applies the command timeout to the socket, enables TCP keep-alive (so a silently
    /// dead peer is noticed even by a subscriber that only reads), then AUTH and SELECT from `url`.
    static func connect(to url: RedisURL, connectTimeout: Duration, commandTimeout: Duration) throws(RedisError) -> RedisContext {
        _ = ignoreSIGPIPE
        let endpoint = url.endpoint
        guard let raw = redisConnectWithTimeout(url.host, Int32(url.port), timeval(connectTimeout)) else {
            throw RedisError(kind: .connectFailed, endpoint: endpoint, command: nil, message: "out of memory")
        }
        if raw.pointee.err != 0 {
            let message = errorText(raw)
            redisFree(raw)
            throw RedisError(kind: .connectFailed, endpoint: endpoint, command: nil, message: message)
        }
        let context = RedisContext(pointer: raw, endpoint: endpoint, commandTimeout: commandTimeout)
        guard redisSetTimeout(raw, timeval(commandTimeout)) == REDIS_OK else {
            throw context.failure(command: nil, errno: errno)
        }
        _ = redisEnableKeepAlive(raw)
        if let password = url.password {
            var auth: [[UInt8]] = [Array("AUTH".utf8)]
            if let user = url.user { auth.append(Array(user.utf8)) }
            auth.append(Array(password.utf8))
            _ = try context.command(auth)
        }
        if url.database != 0 {
            _ = try context.command(["SELECT".redisBytes, url.database.redisBytes])
        }
        return context
    }

    /// The socket, for `shutdown(2)` from another thread to wake a blocked read.
    var fileDescriptor: Int32 { pointer.pointee.fd }

    /// Whether hiredis has flagged an error: the context must not be used again.
    var isBroken: Bool { pointer.pointee.err != 0 }

    /// Sets the socket's read/write timeout; `nil` blocks without limit (a subscriber waiting
    /// for messages, which TCP keep-alive and `shutdown(2)` still end).
    func setTimeout(_ timeout: Duration?) throws(RedisError) {
        guard redisSetTimeout(pointer, timeout.map(timeval.init) ?? timeval(tv_sec: 0, tv_usec: 0)) == REDIS_OK else {
            throw failure(command: nil, errno: errno)
        }
    }

    /// Sends one command and waits for its reply. A top-level error reply is thrown as
    /// ``RedisError/Kind-swift.enum/server``; the connection stays usable after it.
    func command(_ arguments: [[UInt8]]) throws(RedisError) -> RedisReply {
        let name = Self.commandName(arguments)
        // One contiguous buffer (with a trailing byte so that it is never empty) keeps every
        // argument's pointer valid for the duration of the call.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        for argument in arguments {
            offsets.append(buffer.count)
            buffer.append(contentsOf: argument)
        }
        buffer.append(0)
        var lengths = arguments.map(\.count)
        var savedErrno: Int32 = 0
        let raw: UnsafeMutableRawPointer? = buffer.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            let reply = redisCommandArgv(pointer, Int32(arguments.count), &argv, &lengths)
            savedErrno = errno
            return reply
        }
        guard let raw else { throw failure(command: name, errno: savedErrno) }
        return try Self.take(raw, endpoint: endpoint, command: name)
    }

    /// Reads the next reply without sending anything (pub/sub messages, further SUBSCRIBE confirmations).
    func readReply(command name: String) throws(RedisError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        let status = redisGetReply(pointer, &raw)
        let savedErrno = errno
        guard status == REDIS_OK, let raw else { throw failure(command: name, errno: savedErrno) }
        return try Self.take(raw, endpoint: endpoint, command: name)
    }

    /// Copies a reply tree into Swift values and frees it.
    private static func take(_ raw: UnsafeMutableRawPointer, endpoint: String, command: String) throws(RedisError) -> RedisReply {
        defer { freeReplyObject(raw) }
        let reply = convert(raw.assumingMemoryBound(to: redisReply.self))
        if case .error(let message) = reply {
            throw RedisError(kind: .server, endpoint: endpoint, command: command, message: message)
        }
        return reply
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        func bytes() -> [UInt8] {
            guard let str = value.str, value.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: str, count: value.len))
        }
        switch value.type {
        case REDIS_REPLY_STRING:
            return .bulk(bytes())
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(value.integer))
        case REDIS_REPLY_ARRAY:
            guard let elements = value.element else { return .array([]) }
            return .array((0..<value.elements).map { index in
                elements[index].map(convert) ?? .null
            })
        default: // REDIS_REPLY_NIL
            return .null
        }
    }

    /// Turns hiredis' error flag into a ``RedisError``. hiredis reports a socket timeout as an
    /// I/O error with `EAGAIN` ("Resource temporarily unavailable"): say "timed out" instead.
    private func failure(command: String?, errno savedErrno: Int32) -> RedisError {
        let message = Self.errorText(pointer)
        let kind: RedisError.Kind
        switch pointer.pointee.err {
        case REDIS_ERR_IO where savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || message == String(cString: strerror(EAGAIN)):
            return RedisError(kind: .timedOut, endpoint: endpoint, command: command, message: "timed out after \(Self.format(commandTimeout))")
        case REDIS_ERR_PROTOCOL:
            kind = .protocolError
        default:
            kind = .connectionLost
        }
        return RedisError(kind: kind, endpoint: endpoint, command: command, message: message.isEmpty ? "unknown hiredis error" : message)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        var errstr = context.pointee.errstr
        return withUnsafeBytes(of: &errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }

    /// The command's name for error texts: its first word if that looks like a command name,
    /// never the arguments (which may hold data).
    static func commandName(_ arguments: [[UInt8]]) -> String {
        guard let first = arguments.first, (1...32).contains(first.count),
              first.allSatisfy({ $0 < 0x80 && (isalnum(Int32($0)) != 0 || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")) })
        else { return "command" }
        return String(decoding: first, as: UTF8.self).uppercased()
    }

    /// `2 s`, `0.5 s`.
    static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: numericCast(max(seconds, 0)), tv_usec: numericCast(max(attoseconds, 0) / 1_000_000_000_000))
    }
}

/// hiredis writes with `write(2)`: writing to a connection the server has closed raises SIGPIPE,
/// whose default action kills the process. Ignoring it (once, process-wide, as network servers
/// do) turns that into an `EPIPE` error that the caller sees as a lost connection.
private let ignoreSIGPIPE: Void = {
    _ = signal(SIGPIPE, SIG_IGN)
}()
