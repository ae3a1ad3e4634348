import DummyJSONFixture
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import TestSupport

/// Fault and request logs stay out of the test output.
let quietLogger = Logger(label: "dummyjson-fixture-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs `body` against a fixture through HummingbirdTesting's router framework (no socket).
func withRouterFixture<T>(
    _ configuration: FixtureConfiguration = FixtureConfiguration(),
    _ body: @Sendable (FixtureServer, any TestClientProtocol) async throws -> T
) async throws -> T {
    let server = try FixtureServer(configuration: configuration, logger: quietLogger)
    return try await server.makeApplication().test(.router) { client in
        try await body(server, client)
    }
}

/// Runs `body` against a fixture listening on 127.0.0.1 on a free port.
func withLiveFixture<T>(
    _ configuration: FixtureConfiguration = FixtureConfiguration(),
    _ body: (FixtureServer, Int) async throws -> T
) async throws -> T {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    return try await FixtureServer.withRunning(configuration, logger: quietLogger, body)
}

extension TestClientProtocol {
    func get(_ uri: String) async throws -> TestResponse {
        try await executeRequest(uri: uri, method: .get, headers: [:], body: nil)
    }

    func send(_ method: HTTPRequest.Method, _ uri: String, json: String? = nil) async throws -> TestResponse {
        try await executeRequest(uri: uri, method: method, headers: [:], body: json.map { ByteBuffer(string: $0) })
    }

    /// GET and parse the body as JSON.
    func getJSON(_ uri: String) async throws -> (TestResponse, JSON) {
        let response = try await get(uri)
        return (response, try JSON.parse(response.bytes))
    }
}

extension TestResponse {
    var bytes: [UInt8] { Array(body.readableBytesView) }
    var text: String { String(buffer: body) }
    var requestNumber: Int? { headers[FixtureServer.requestNumberHeader].flatMap { Int($0) } }
}

// MARK: Raw HTTP over a socket

/// What came back on one connection: the response head, the body bytes received before the
/// server closed it, and the head's Content-Length.
struct RawResponse: Sendable {
    let status: Int
    let headers: [String: String]
    let body: [UInt8]

    var contentLength: Int? { headers["content-length"].flatMap { Int($0) } }
}

struct RawHTTPError: Error, CustomStringConvertible {
    let description: String
}

/// Sends one HTTP/1.1 request with `Connection: close` to 127.0.0.1:`port` and reads until the
/// server closes the connection, without any HTTP client logic in the way, so a response cut off
/// mid-body is seen exactly as sent.
func rawRequest(port: Int, method: String = "GET", path: String, body: String? = nil, timeout: Duration = .seconds(10)) async throws -> RawResponse {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    if let body {
        request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    } else {
        request += "\r\n"
    }
    let requestText = request
    let received: [UInt8] = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
        group.addTask {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: requestText))
                var bytes: [UInt8] = []
                for try await chunk in inbound {
                    bytes.append(contentsOf: chunk.readableBytesView)
                }
                return bytes
            }
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let first else {
            try? await channel.channel.close()
            throw RawHTTPError(description: "no close from the server within \(timeout)")
        }
        return first
    }
    let separator: [UInt8] = [13, 10, 13, 10]
    guard let headEnd = received.indices.first(where: { received[$0...].starts(with: separator) }) else {
        throw RawHTTPError(description: "no complete response head in \(received.count) bytes")
    }
    let head = String(decoding: received[..<headEnd], as: UTF8.self)
    var lines = head.components(separatedBy: "\r\n")
    let statusLine = lines.removeFirst().split(separator: " ")
    guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
        throw RawHTTPError(description: "bad status line in \(head)")
    }
    var headers: [String: String] = [:]
    for line in lines {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return RawResponse(status: status, headers: headers, body: Array(received[(headEnd + 4)...]))
}
