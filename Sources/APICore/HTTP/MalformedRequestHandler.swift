import HTTPTypes
import NIOCore
import NIOHTTP1

/// Answers a request NIO's HTTP parser rejects (a garbled request line, a bad header, an unknown
/// method, a header section over the size limit) in the API's JSON error shape, then closes.
///
/// These errors happen below the router, where Hummingbird answers them itself with an empty,
/// non-JSON 400 (`HTTPChannelHandler.handleHTTP`). This handler sits right behind the decoder and
/// catches the error before Hummingbird sees it: 431 for headers over the limit, 400 otherwise,
/// `detail.reason` naming the parser's error. When responses are still due for earlier requests
/// on the connection (pipelining), the error is answered after the last of them.
final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Requests whose head has been read and whose response has not ended yet.
    private var unanswered = 0
    /// The parse error, once there is one: nothing is read after it.
    private var failure: APIError?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard failure == nil else { return }
        if case .head = unwrapInboundIn(data) { unanswered += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if case .end = unwrapOutboundIn(data) {
            unanswered -= 1
            if unanswered == 0, let failure { answer(failure, context: context) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        guard failure == nil else { return }
        let failure = APIError.malformedRequest(reason: "\(parseError)", headersTooLarge: parseError == .headerOverflow)
        self.failure = failure
        if unanswered == 0 { answer(failure, context: context) }
    }

    /// Writes `error` as the connection's last response and closes it once written.
    private func answer(_ error: APIError, context: ChannelHandlerContext) {
        let body = error.body
        var headers = HTTPHeaders([
            ("Content-Type", "application/json; charset=utf-8"), ("Content-Length", String(body.count)), ("Connection", "close"),
        ])
        for field in error.headers { headers.add(name: field.name.rawName, value: field.value) }
        let status = HTTPResponseStatus(statusCode: error.status.code, reasonPhrase: error.status.reasonPhrase)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
