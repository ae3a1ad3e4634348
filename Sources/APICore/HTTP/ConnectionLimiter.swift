import Logging
import NIOCore
import Synchronization

/// Counts the API's open connections against `API_MAX_CONNECTIONS`.
///
/// Hummingbird's own knob (`MaximumAvailableConnections`) stops *accepting* at the limit, so
/// further clients wait in the kernel's listen backlog (and then in SYN retries) with no answer
/// for as long as the slow clients hold their slots. The API instead accepts every connection
/// and answers one over the limit at once with a JSON 503 (``OverCapacityHandler``), so a client
/// learns promptly that it should retry; as soon as a connection closes its slot is free again.
public final class ConnectionLimiter: Sendable {
    public let limit: Int
    private let open = Atomic<Int>(0)
    /// Whether the "limit reached" warning was logged since the last admitted connection.
    private let warned = Atomic<Bool>(false)
    private let logger: Logger

    public init(limit: Int, logger: Logger) {
        precondition(limit > 0)
        self.limit = limit
        self.logger = logger
    }

    /// Connections holding a slot now.
    public var openConnections: Int { open.load(ordering: .relaxed) }

    /// Takes a slot for `channel` (freed when it closes) and returns `true`, or returns `false`
    /// when all are taken.
    func admit(_ channel: any Channel) -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = open.compareExchange(expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged {
                if warned.exchange(false, ordering: .relaxed) {
                    logger.notice("accepting connections again", metadata: ["max_connections": .stringConvertible(limit)])
                }
                channel.closeFuture.whenComplete { [self] _ in open.subtract(1, ordering: .relaxed) }
                return true
            }
            current = original
        }
        if !warned.exchange(true, ordering: .relaxed) {
            logger.warning(
                "connection limit reached: answering new connections 503 until one closes",
                metadata: ["max_connections": .stringConvertible(limit)])
        }
        return false
    }
}

/// The whole life of a connection over the limit: writes the JSON 503 as soon as it is active,
/// half-closes, discards whatever the client sends and closes once the client has closed its
/// side, or after ``linger`` at most.
///
/// It sits first in the pipeline and passes nothing on, so the HTTP handlers behind it never
/// see a byte. The 503 is written as raw HTTP/1.1 because no request is read (a slow client must
/// not hold even this connection). Closing only after the client's side closes avoids a TCP
/// reset, which would make the client's kernel drop the 503 before it is read.
final class OverCapacityHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// The longest a refused connection stays open.
    static let linger = TimeAmount.seconds(1)

    private let response: [UInt8]
    private var written = false
    private var lingerEnd: Scheduled<Void>?

    init(limit: Int) {
        let error = APIError.tooManyConnections(limit: limit)
        var head = "HTTP/1.1 \(error.status.code) \(error.status.reasonPhrase)\r\n"
        head += "Content-Type: application/json; charset=utf-8\r\nContent-Length: \(error.body.count)\r\n"
        for field in error.headers { head += "\(field.name.rawName): \(field.value)\r\n" }
        head += "Connection: close\r\n\r\n"
        response = Array(head.utf8) + error.body
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
        context.fireChannelActive()
    }

    private func refuse(context: ChannelHandlerContext) {
        guard !written else { return }
        written = true
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(ByteBuffer(bytes: response))), promise: done)
        done.futureResult.assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
        lingerEnd = context.eventLoop.assumeIsolated().scheduleTask(in: Self.linger) { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        lingerEnd?.cancel()
        lingerEnd = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
