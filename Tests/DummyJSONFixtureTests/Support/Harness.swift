import DummyJSONFixture
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
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

/// Sends one HTTP/1.1 request with `Connection: close` to 127.0.0.1:`port` and reads until the
/// server closes the connection, so a response cut off mid-body is seen exactly as sent.
func rawRequest(port: Int, method: String = "GET", path: String, body: String? = nil) async throws -> RawHTTPResponse {
    var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    if let body {
        request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    } else {
        request += "\r\n"
    }
    let response = try await RawTCPConnection.exchange(port: port, request)
    guard response.closed else { throw RawHTTPExchangeError("no close from the server within \(response.elapsed)") }
    return response
}
