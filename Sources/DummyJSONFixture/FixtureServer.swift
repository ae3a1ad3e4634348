import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The Hummingbird application type the fixture runs as.
public typealias FixtureApplication = Application<RouterResponder<BasicRequestContext>>

/// Thrown inside a response body writer to drop the connection mid-body (the "truncated"
/// fault): Hummingbird closes the channel when the body writer fails.
public struct TruncatedResponseError: Error, CustomStringConvertible {
    public let request: Int
    public var description: String { "fixture truncated the response to request \(request) on purpose" }
}

/// A DummyJSON-compatible `/users` server with bad rows and fault injection.
///
/// Routes: `GET /users`, `GET /users/{id}`, `GET /health`, and the control API under
/// `/_fixture`: `GET|PUT|PATCH /_fixture/faults`, `GET /_fixture/stats`, `POST /_fixture/reset`,
/// `GET /_fixture/info`, `GET /_fixture/bad-rows`, `GET /_fixture/hostile`.
public final class FixtureServer: Sendable {
    public let configuration: FixtureConfiguration
    public let users: FixtureUsers
    public let controller: FixtureController
    public let logger: Logger

    /// Pages of more users than this are streamed in chunks (chunked transfer encoding)
    /// instead of being built in one buffer, so `limit=0` over a million users stays bounded in
    /// memory.
    public static let streamingThreshold = 5_000
    static let streamingChunk = 1_000

    public init(configuration: FixtureConfiguration, logger: Logger? = nil) throws {
        try configuration.validate()
        self.configuration = configuration
        self.users = try FixtureUsers(count: configuration.users, seed: configuration.seed, badFraction: configuration.badFraction)
        self.controller = FixtureController(baseCount: configuration.users, faults: configuration.faults)
        if let logger {
            self.logger = logger
        } else {
            var logger = Logger(label: "dummyjson-fixture")
            logger.logLevel = configuration.logLevel
            self.logger = logger
        }
    }

    /// `dummyjson fixture listening on http://127.0.0.1:8080/users (users=208 bad=0.05 seed=1)`
    public func listeningLine(port: Int) -> String {
        let bad = configuration.badFraction
        let badText = bad == bad.rounded() ? String(Int(bad)) : String(bad)
        return "dummyjson fixture listening on http://\(configuration.host):\(port)/users (users=\(configuration.users) bad=\(badText) seed=\(configuration.seed))"
    }

    // MARK: Application

    /// The Hummingbird application on `configuration.host`/`port`. `onServerRunning` gets the
    /// bound port (the real one when `port` is 0).
    public func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> FixtureApplication {
        Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "dummyjson-fixture"),
            onServerRunning: { channel in
                await onServerRunning(channel.localAddress?.port ?? 0)
            },
            logger: logger
        )
    }

    /// Starts a fixture (normally on 127.0.0.1 port 0), runs `body` with the server and its
    /// port, then shuts the server down gracefully. For tests in any target.
    public static func withRunning<T>(
        _ configuration: FixtureConfiguration,
        logger: Logger? = nil,
        _ body: (FixtureServer, Int) async throws -> T
    ) async throws -> T {
        let server = try FixtureServer(configuration: configuration, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = server.makeApplication { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: server.logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { continuation.finish() }
                try await group.run()
            }
            guard let port = await ports.first(where: { _ in true }) else {
                try await tasks.waitForAll()  // rethrows why the server stopped (e.g. bind failure)
                throw FixtureConfigurationError("fixture server stopped before listening")
            }
            do {
                let value = try await body(server, port)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return value
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    // MARK: Router

    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("health") { _, _ in
            FixtureServer.json(.ok, Array("{\"status\":\"ok\"}".utf8))
        }
        router.get("users") { [self] request, context in
            try await handleUsers(request: request, context: context, id: nil)
        }
        router.get("users/:id") { [self] request, context in
            try await handleUsers(request: request, context: context, id: context.parameters.get("id") ?? "")
        }
        router.get("_fixture/faults") { [self] _, _ in
            try FixtureServer.encoded(controller.faults)
        }
        router.put("_fixture/faults") { [self] request, context in
            try await updateFaults(request: request, context: context, merge: false)
        }
        router.patch("_fixture/faults") { [self] request, context in
            try await updateFaults(request: request, context: context, merge: true)
        }
        router.get("_fixture/stats") { [self] _, _ in
            try FixtureServer.encoded(controller.stats())
        }
        router.post("_fixture/reset") { [self] _, context in
            controller.reset()
            context.logger.info("fixture reset: counters cleared, faults back to start settings")
            return try FixtureServer.encoded(controller.faults)
        }
        router.get("_fixture/info") { [self] _, _ in
            try FixtureServer.encoded(info())
        }
        router.get("_fixture/bad-rows") { [self] _, _ in
            try FixtureServer.encoded(users.badRows())
        }
        router.get("_fixture/hostile") { [self] _, _ in
            try FixtureServer.encoded(hostileInfo())
        }
        return router
    }

    /// What `GET /_fixture/info` answers.
    public struct Info: Codable, Sendable, Equatable {
        public let users: Int
        public let seed: UInt64
        public let badFraction: Double
        public let badCount: Int
        public let badByKind: [String: Int]
        /// The total the next `/users` request would report.
        public let total: Int
    }

    /// What `GET /_fixture/hostile` answers: every secret value the fixture plants (hostile mode
    /// and the invalid-JSON users), the text a log-injection row tries to start a log line with,
    /// and how many of the next request's `total` users are of each hostile kind (all zero
    /// while hostile mode is off).
    public struct HostileInfo: Codable, Sendable, Equatable {
        public let enabled: Bool
        public let secrets: [String]
        public let injectedLogLine: String
        public let rowsByKind: [String: Int]
        /// Rows that are valid JSON but not objects.
        public let nonObjectRows: Int
    }

    public func hostileInfo() -> HostileInfo {
        let enabled = controller.faults.hostile
        let counts = enabled ? users.hostileCounts(total: controller.currentTotal) : [:]
        return HostileInfo(
            enabled: enabled,
            secrets: HostileSecrets.all,
            injectedLogLine: HostileSecrets.injectedLogLine,
            rowsByKind: Dictionary(uniqueKeysWithValues: HostileKind.allCases.map { ($0.rawValue, counts[$0] ?? 0) }),
            nonObjectRows: counts.filter { !$0.key.isObject }.values.reduce(0, +)
        )
    }

    public func info() -> Info {
        Info(
            users: users.count,
            seed: users.seed,
            badFraction: users.badFraction,
            badCount: users.badCount,
            badByKind: Dictionary(uniqueKeysWithValues: users.badCounts().map { ($0.key.rawValue, $0.value) }),
            total: controller.currentTotal
        )
    }

    // MARK: /users

    func handleUsers(request: Request, context: BasicRequestContext, id: String?) async throws -> Response {
        let ticket = controller.admit()
        let n = ticket.request
        if ticket.delayMs > 0 {
            try await Task.sleep(for: .milliseconds(ticket.delayMs))
        }
        var response: Response
        switch ticket.admission {
        case .down:
            context.logger.info("fault injected: down (503)", metadata: ["request": "\(n)"])
            response = FixtureServer.message(.serviceUnavailable, "Service Unavailable")
        case .rateLimited(let retryAfter):
            context.logger.info("fault injected: rate limit (429, Retry-After \(retryAfter))", metadata: ["request": "\(n)"])
            response = FixtureServer.message(.tooManyRequests, "Too many requests, please try again later.")
            response.headers[.retryAfter] = String(retryAfter)
        case .failed:
            context.logger.info("fault injected: failEvery (503)", metadata: ["request": "\(n)"])
            response = FixtureServer.message(.serviceUnavailable, "Service Unavailable")
        case .serve(let total, let bodyFault):
            if total != users.count {
                context.logger.info("fault injected: total changed to \(total)", metadata: ["request": "\(n)"])
            }
            if let reported = ticket.reportedTotal {
                context.logger.info("fault injected: total reported as \(reported)", metadata: ["request": "\(n)"])
            }
            if let id {
                response = userResponse(id: id, total: total, bodyFault: bodyFault, content: ticket.content, request: n, logger: context.logger)
            } else {
                response = listResponse(request: request, total: total, reportedTotal: ticket.reportedTotal, bodyFault: bodyFault,
                                        content: ticket.content, request: n, logger: context.logger)
            }
        }
        response.headers[FixtureServer.requestNumberHeader] = String(n)
        controller.record(status: response.status.code)
        context.logger.debug(
            "\(request.method) \(request.uri) -> \(response.status.code)",
            metadata: ["request": "\(n)"]
        )
        return response
    }

    /// Every `/users` response carries its request number, to line logs and faults up.
    /// (`HTTPFields.Element` is HTTPTypes' `HTTPField`, which Hummingbird does not re-export.)
    public static let requestNumberHeader = HTTPFields.Element.Name("X-Fixture-Request")!

    func listResponse(request: Request, total: Int, reportedTotal: Int? = nil, bodyFault: BodyFault, content: ContentFaults = .none,
                      request n: Int, logger: Logger) -> Response {
        let query = request.uri.queryParameters
        guard let limit = FixtureServer.parseNumber(query["limit"], absent: 30) else {
            return FixtureServer.message(.badRequest, "Invalid 'limit' - must be a number")
        }
        guard let skip = FixtureServer.parseNumber(query["skip"], absent: 0) else {
            return FixtureServer.message(.badRequest, "Invalid 'skip' - must be a number")
        }
        let selection = UserFieldSelection(selectParameter: query["select"].map(String.init))
        var window = PageWindow(total: total, skip: skip, limit: limit)
        if let reportedTotal { window = window.reporting(total: reportedTotal) }
        if window.count > FixtureServer.streamingThreshold {
            return streamedPage(window, selection: selection, bodyFault: bodyFault, content: content, request: n, logger: logger)
        }
        var out = JSONBytes(capacity: FixtureUsers.pageCapacity(window.count, selection))
        users.writePage(window, selection: selection, content: content, to: &out)
        return withBodyFault(bodyFault, ByteBuffer(bytes: out.buffer), request: n, logger: logger)
    }

    func userResponse(id: String, total: Int, bodyFault: BodyFault, content: ContentFaults = .none, request n: Int, logger: Logger) -> Response {
        guard let index = users.index(forID: id, total: total) else {
            return FixtureServer.message(.notFound, "User with id '\(id)' not found")
        }
        var out = JSONBytes(capacity: 1600)
        users.writeUser(index: index, selection: .all, content: content, to: &out)
        return withBodyFault(bodyFault, ByteBuffer(bytes: out.buffer), request: n, logger: logger)
    }

    /// A 200 JSON response, malformed or truncated as asked.
    func withBodyFault(_ fault: BodyFault, _ buffer: ByteBuffer, request n: Int, logger: Logger) -> Response {
        let size = buffer.readableBytes
        switch fault {
        case .none:
            return FixtureServer.json(.ok, buffer)
        case .malformed:
            logger.info("fault injected: malformed JSON (\(size / 2) of \(size) bytes)", metadata: ["request": "\(n)"])
            return FixtureServer.json(.ok, buffer.getSlice(at: buffer.readerIndex, length: size / 2)!)
        case .truncated:
            logger.info(
                "fault injected: truncated body (Content-Length \(size), \(size / 2) bytes sent, then connection closed)",
                metadata: ["request": "\(n)"]
            )
            let half = buffer.getSlice(at: buffer.readerIndex, length: size / 2)!
            let body = ResponseBody(contentLength: size) { writer in
                try await writer.write(half)
                throw TruncatedResponseError(request: n)
            }
            return Response(status: .ok, headers: [.contentType: FixtureServer.jsonContentType], body: body)
        }
    }

    /// A page too big for one buffer: written in chunks with chunked transfer encoding. The
    /// body faults act on users: malformed stops after half of them and ends the body
    /// normally; truncated stops after half of them and drops the connection (no final chunk).
    func streamedPage(_ window: PageWindow, selection: UserFieldSelection, bodyFault: BodyFault, content: ContentFaults = .none, request n: Int, logger: Logger) -> Response {
        if bodyFault != .none {
            logger.info("fault injected: \(bodyFault.rawValue) streamed body (\(window.count / 2) of \(window.count) users)", metadata: ["request": "\(n)"])
        }
        let users = self.users
        let chunk = FixtureServer.streamingChunk
        let body = ResponseBody { writer in
            var out = JSONBytes(capacity: chunk * 1600)
            users.writePageHead(to: &out)
            let stop = bodyFault == .none ? window.indexes.upperBound : window.start + window.count / 2
            var next = window.start
            while next < stop {
                let end = min(next + chunk, stop)
                users.writeUsers(next..<end, selection: selection, first: next == window.start, content: content, to: &out)
                try await writer.write(ByteBuffer(bytes: out.buffer))
                out.removeAll()
                next = end
            }
            switch bodyFault {
            case .none:
                users.writePageTail(window, to: &out)
                try await writer.write(ByteBuffer(bytes: out.buffer))
                try await writer.finish(nil)
            case .malformed:
                try await writer.finish(nil)
            case .truncated:
                throw TruncatedResponseError(request: n)
            }
        }
        return Response(status: .ok, headers: [.contentType: FixtureServer.jsonContentType], body: body)
    }

    /// DummyJSON accepts whatever JavaScript's `Number()` takes: integers, decimals (truncated
    /// here), exponents; anything else (`nil`) is "must be a number". Absent or empty: `absent`.
    static func parseNumber(_ raw: Substring?, absent: Int) -> Int? {
        let text = raw.map { String($0).trimmingSpaces } ?? ""
        if text.isEmpty { return absent }
        if let v = Int(text) { return v }
        if let d = Double(text), d.isFinite, abs(d) < 1e15 { return Int(d) }
        return nil
    }

    // MARK: Control API

    func updateFaults(request: Request, context: BasicRequestContext, merge: Bool) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        let data = Data(buffer.readableBytesView)
        do {
            let base = merge ? controller.faults : FaultSettings.none
            let settings = try base.applying(json: data.isEmpty ? Data("{}".utf8) : data)
            try controller.setFaults(settings)
            let text = String(decoding: try FixtureServer.encoder.encode(settings), as: UTF8.self)
            context.logger.info("fault settings changed: \(text)")
            return FixtureServer.json(.ok, Array(text.utf8))
        } catch let error as FixtureConfigurationError {
            return FixtureServer.message(.badRequest, error.message)
        }
    }

    // MARK: Responses

    static let jsonContentType = "application/json; charset=utf-8"

    static func json(_ status: HTTPResponse.Status, _ bytes: [UInt8]) -> Response {
        json(status, ByteBuffer(bytes: bytes))
    }

    static func json(_ status: HTTPResponse.Status, _ buffer: ByteBuffer) -> Response {
        Response(status: status, headers: [.contentType: jsonContentType], body: .init(byteBuffer: buffer))
    }

    /// `{"message":"…"}`, DummyJSON's error shape.
    static func message(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var out = JSONBytes(capacity: text.utf8.count + 16)
        out.raw("{\"message\":")
        out.escaped(text)
        out.byte(0x7D)
        return json(status, ByteBuffer(bytes: out.buffer))
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    static func encoded(_ value: some Encodable) throws -> Response {
        json(.ok, Array(try encoder.encode(value)))
    }
}
