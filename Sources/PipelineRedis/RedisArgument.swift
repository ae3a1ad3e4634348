/// A value that can be sent as one command argument: its exact bytes go on the wire.
///
/// Commands are sent with `redisCommandArgv` (length-prefixed), never through a format
/// string, so any bytes are safe: `\0`, `\r\n`, `%` and spaces need no escaping.
public protocol RedisArgument: Sendable {
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Array: RedisArgument where Element == UInt8 {
    public var redisBytes: [UInt8] { self }
}

extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Double: RedisArgument {
    /// Redis parses scores with `strtod`: Swift's shortest round-trip text (`1.5`, `1e+20`,
    /// `inf`, `-inf`) reads back as the same value.
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}
