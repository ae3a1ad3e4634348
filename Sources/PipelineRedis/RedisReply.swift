/// One RESP2 reply, copied out of hiredis' `redisReply` tree into Swift values.
///
/// Copied (not wrapped) so that the C reply can be freed on the connection's own thread
/// right away and the value can cross to any task: it is a plain `Sendable` enum.
/// A top-level server error is thrown as ``RedisError`` by the client; `.error` appears
/// only nested inside arrays (for example in `EVAL` results that return error tables).
public enum RedisReply: Sendable, Hashable {
    /// A simple string such as `OK` or `PONG`.
    case status(String)
    /// An error reply, e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`.
    case error(String)
    case integer(Int)
    /// A bulk string: arbitrary bytes, `\0` and `\r\n` included.
    case bulk([UInt8])
    /// The null bulk string or null array (`GET` of a missing key, `SET … NX` that lost).
    case null
    case array([RedisReply])
}

extension RedisReply {
    /// Status or bulk text decoded as UTF-8; `nil` for other replies or bytes that are not UTF-8.
    public var string: String? {
        switch self {
        case .status(let text): text
        case .bulk(let bytes): String(validating: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The bytes of a bulk or status reply.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): bytes
        case .status(let text): Array(text.utf8)
        default: nil
        }
    }

    /// An integer reply, or a bulk/status reply holding a decimal integer (as `HGET` of a counter returns).
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .bulk, .status: string.flatMap { Int($0) }
        default: nil
        }
    }

    /// A bulk/status reply holding a number, as `ZSCORE` returns (`inf` and `-inf` included).
    public var double: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .bulk, .status: string.flatMap { Double($0) }
        default: nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let elements) = self { elements } else { nil }
    }

    public var isNull: Bool { self == .null }
}

extension RedisReply: CustomStringConvertible {
    /// A short, content-free summary (`bulk(12 bytes)`): replies may hold pipeline data,
    /// which must not end up in logs through an interpolated reply.
    public var description: String {
        switch self {
        case .status(let text): "status(\(text))"
        case .error(let message): "error(\(message))"
        case .integer(let value): "integer(\(value))"
        case .bulk(let bytes): "bulk(\(bytes.count) bytes)"
        case .null: "null"
        case .array(let elements): "array(\(elements.count) elements)"
        }
    }
}
