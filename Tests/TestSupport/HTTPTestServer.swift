import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One request as ``HTTPTestServer`` received it.
public struct HTTPTestRequest: Sendable {
    /// `GET`, ...
    public var method: String
    /// The request target: path and query (`/users?limit=10&skip=0`).
    public var target: String
    /// Header fields, names lowercased.
    public var headers: [String: String]
}

/// What ``HTTPTestServer`` does with one request.
public enum HTTPTestReply: Sendable {
    /// Writes these raw bytes (status line, headers, body) and waits for the next request on
    /// the same connection.
    case send([UInt8])
    /// Writes these raw bytes, then closes the connection: with a `Content-Length` larger than
    /// the body sent, a truncated response.
    case sendAndClose([UInt8])
    /// Never answers: holds the connection open until the client gives up or the server stops.
    case hang
}

/// A tiny HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for tests: canned raw responses from
/// a handler. The accept loop and each connection run on threads of their own, so a hanging
/// connection holds up nothing else. Call ``stop()`` at the end of each test: the accept thread
/// keeps the server alive until then, so there is no stop on `deinit`.
public final class HTTPTestServer: Sendable {
    public let port: UInt16
    private let listener: Int32
    private let handler: @Sendable (HTTPTestRequest) -> HTTPTestReply
    private let threads = DispatchGroup()
    private let state = Mutex(State())
    private let log = Mutex<[HTTPTestRequest]>([])

    private struct State {
        var stopped = false
        var openConnections: Set<Int32> = []
        var accepted = 0
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Every request received so far, in arrival order.
    public var requests: [HTTPTestRequest] { log.withLock { $0 } }

    /// Connections accepted so far.
    public var acceptedConnections: Int { state.withLock { $0.accepted } }

    public init(handler: @escaping @Sendable (HTTPTestRequest) -> HTTPTestReply) throws {
        let (socket, port) = try LoopbackSocket.listen(backlog: 64)
        self.listener = socket
        self.port = port
        self.handler = handler
        threads.enter()
        Thread { [self] in
            acceptLoop()
            threads.leave()
        }.start()
    }

    /// Stops accepting, cuts every open connection and waits (up to 5 s) for the server's
    /// threads to end. Idempotent.
    public func stop() {
        let alreadyStopped = state.withLock { state in
            defer { state.stopped = true }
            guard !state.stopped else { return true }
            // Wakes the accept loop (accept fails) and every connection blocked in recv.
            shutdown(listener, Int32(SHUT_RDWR))
            for connection in state.openConnections { shutdown(connection, Int32(SHUT_RDWR)) }
            return false
        }
        guard !alreadyStopped else { return }
        _ = threads.wait(timeout: .now() + 5)
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // shut down by stop()
            }
            let open = state.withLock { state in
                guard !state.stopped else { return false }
                state.accepted += 1
                state.openConnections.insert(connection)
                return true
            }
            guard open else {
                close(connection)
                return
            }
            threads.enter()
            Thread { [self] in
                serve(connection)
                state.withLock { state in
                    state.openConnections.remove(connection)
                    close(connection)  // under the lock, so stop() never shuts down a reused fd
                }
                threads.leave()
            }.start()
        }
    }

    /// Answers requests on one connection until the client or the handler closes it.
    private func serve(_ connection: Int32) {
        var buffer: [UInt8] = []
        while true {
            guard let head = readHead(connection, buffer: &buffer) else { return }
            let request = Self.parse(head)
            log.withLock { $0.append(request) }
            switch handler(request) {
            case .send(let bytes):
                guard HTTPTestSocket.sendAll(connection, bytes) else { return }
            case .sendAndClose(let bytes):
                _ = HTTPTestSocket.sendAll(connection, bytes)
                return
            case .hang:
                var sink = [UInt8](repeating: 0, count: 4096)
                while recv(connection, &sink, sink.count, 0) > 0 {}
                return
            }
        }
    }

    /// Reads up to the blank line ending a request head; `nil` when the connection ends first.
    private func readHead(_ connection: Int32, buffer: inout [UInt8]) -> [UInt8]? {
        let terminator: [UInt8] = Array("\r\n\r\n".utf8)
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = buffer.firstRange(of: terminator) {
                let head = Array(buffer[..<end.lowerBound])
                buffer.removeSubrange(..<end.upperBound)
                return head
            }
            let count = recv(connection, &chunk, chunk.count, 0)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    private static func parse(_ head: [UInt8]) -> HTTPTestRequest {
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines.first?.split(separator: " ").map(String.init) ?? []
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPTestRequest(method: requestLine.first ?? "", target: requestLine.count > 1 ? requestLine[1] : "", headers: headers)
    }

    // MARK: - Canned responses

    /// A raw HTTP/1.1 response: status line, `Content-Length` (the body's size unless
    /// `contentLength` says otherwise, to announce more than is sent), the extra headers, body.
    public static func response(
        status: Int = 200,
        reason: String = "OK",
        headers: [(String, String)] = [],
        body: [UInt8] = [],
        contentLength: Int? = nil
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason)\r\n"
        head += "Content-Length: \(contentLength ?? body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + body
    }
}

/// The POSIX socket calls the test servers share.
enum HTTPTestSocket {
    /// Writes all of `bytes` (no SIGPIPE if the client is gone); `false` when the connection broke.
    static func sendAll(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }
}
