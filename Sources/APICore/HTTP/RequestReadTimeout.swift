import Logging
import NIOCore
import NIOHTTP1

/// Closes a connection whose request does not arrive in full within `API_READ_TIMEOUT_SECONDS`
/// of its first byte.
///
/// Hummingbird's idle timeout (`API_IDLE_TIMEOUT_SECONDS`) counts from the last *decoded* HTTP
/// part, so a client that sends a request body a byte at a time resets it with every byte and
/// holds its connection for ever; nor does it shorten the wait for a header section sent a byte
/// at a time. This handler counts bytes instead: it sits first in the pipeline, starts the clock
/// at the first byte of a request and stops it when the request has been read to its end, which
/// ``EndOfRequest`` (behind NIO's HTTP decoder) reports with a ``RequestRead`` outbound event.
/// The connection is closed without an answer: there is no request yet to answer.
final class RequestReadTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Sent toward the head of the pipeline when a request's end has been decoded.
    struct RequestRead {}

    private let timeout: TimeAmount
    private let logger: Logger
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if deadline == nil, unwrapInboundIn(data).readableBytes > 0 {
            let timeout = self.timeout
            let logger = self.logger
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
                logger.info(
                    "closing a connection whose request did not arrive in time (API_READ_TIMEOUT_SECONDS)",
                    metadata: ["remote": "\(context.channel.remoteAddress?.description ?? "?")", "timeout_ms": "\(timeout.nanoseconds / 1_000_000)"])
                context.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is RequestRead else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        deadline?.cancel()
        deadline = nil
        promise?.succeed()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    /// Tells ``RequestReadTimeoutHandler`` that a request has been read to its end. Sits right
    /// behind NIO's HTTP request decoder.
    final class EndOfRequest: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .end = unwrapInboundIn(data) {
                context.triggerUserOutboundEvent(RequestRead(), promise: nil)
            }
            context.fireChannelRead(data)
        }
    }
}
