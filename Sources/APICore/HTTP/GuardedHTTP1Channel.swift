import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// The limits the API's HTTP server enforces on its connections (docs/API.md, "Hardening").
public struct ConnectionSettings: Sendable, Equatable {
    /// A connection with no request in progress is closed after this (`API_IDLE_TIMEOUT_SECONDS`).
    public var idleTimeout: Duration
    /// A request must arrive in full within this of its first byte (`API_READ_TIMEOUT_SECONDS`).
    public var readTimeout: Duration
    /// Connections open at once; more are answered 503 and closed (`API_MAX_CONNECTIONS`).
    public var maxConnections: Int

    public init(idleTimeout: Duration = .seconds(30), readTimeout: Duration = .seconds(10), maxConnections: Int = 256) {
        self.idleTimeout = idleTimeout
        self.readTimeout = readTimeout
        self.maxConnections = maxConnections
    }
}

/// Hummingbird's HTTP/1.1 channel (with its idle timeout set) behind the API's own guards:
///
/// - ``ConnectionLimiter``: a connection over `API_MAX_CONNECTIONS` gets only
///   ``OverCapacityHandler`` in front, which answers 503 and closes;
/// - ``RequestReadTimeoutHandler`` in front of the HTTP decoder, with its
///   ``RequestReadTimeoutHandler/EndOfRequest`` behind it;
/// - ``MalformedRequestHandler`` behind the decoder, so parse errors are answered in JSON.
///
/// Hummingbird offers no hook in front of its decoder (its `additionalChannelHandlers` come after
/// its HTTP types codec), so this wraps `HTTP1Channel`: it adds the byte-level handler first, lets
/// `HTTP1Channel` build its pipeline, then puts the part-level handlers right after NIO's decoder.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let settings: ConnectionSettings
    let limiter: ConnectionLimiter

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let admitted = limiter.admit(channel)
        let prepared = channel.eventLoop.makeCompletedFuture {
            let handler: any ChannelHandler = admitted
                ? RequestReadTimeoutHandler(timeout: TimeAmount(settings.readTimeout), logger: logger)
                : OverCapacityHandler(limit: limiter.limit)
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        return prepared.flatMap { base.setup(channel: channel, logger: logger) }.flatMapThrowing { value in
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try operations.addHandlers([MalformedRequestHandler(), RequestReadTimeoutHandler.EndOfRequest()], position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with the API's connection limits (``GuardedHTTP1Channel``).
    static func guardedHTTP1(settings: ConnectionSettings, logger: Logger) -> HTTPServerBuilder {
        let limiter = ConnectionLimiter(limit: settings.maxConnections, logger: logger)
        return .init { responder in
            GuardedHTTP1Channel(
                base: HTTP1Channel(responder: responder, configuration: .init(idleTimeout: TimeAmount(settings.idleTimeout))),
                settings: settings, limiter: limiter)
        }
    }
}
