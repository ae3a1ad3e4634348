import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to 127.0.0.1, for tests that misbehave as an HTTP client cannot (stay
/// silent, send a byte at a time, send bytes no parser accepts). Non-blocking: every wait is a
/// `Task.sleep`, bounded by the caller's limit, so no thread of the cooperative pool is held.
public final class RawTCPConnection: Sendable {
    private let socket: Int32

    /// Connects to 127.0.0.1:`port` (loopback: the connect completes at once or is refused).
    /// The socket is stored only once connected: a throw after every property is set would
    /// run `deinit`, closing the socket a second time, and by then its number may be another
    /// thread's file (the test process runs many suites at once).
    public init(port: Int) throws {
        let socket = try LoopbackSocket.make()
        guard LoopbackSocket.connect(socket, port: UInt16(port)) == 0 else {
            let code = errno
            Glibc.close(socket)
            throw LoopbackSocketError(call: "connect", code: code)
        }
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        self.socket = socket
    }

    deinit { Glibc.close(socket) }

    /// Sends all of `text`; `false` when the connection is broken (the server closed it).
    @discardableResult
    public func send(_ text: String) async -> Bool {
        var bytes = Array(text.utf8)
        while !bytes.isEmpty {
            let sent = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                bytes.removeFirst(sent)
            } else if sent < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try? await Task.sleep(for: .milliseconds(10))
            } else {
                return false
            }
        }
        return true
    }

    /// What `receive(until:)` found.
    public struct Received: Sendable {
        /// Every byte read.
        public var bytes: [UInt8]
        /// Whether the server closed the connection (end of stream or reset) before the limit.
        public var closed: Bool
        /// When the server closed it, measured from the call.
        public var closedAfter: Duration?

        public var text: String { String(decoding: bytes, as: UTF8.self) }

        public init(bytes: [UInt8] = [], closed: Bool = false, closedAfter: Duration? = nil) {
            self.bytes = bytes
            self.closed = closed
            self.closedAfter = closedAfter
        }
    }

    /// Reads until the server closes the connection, `done` holds for what was read, or `limit`
    /// passes, whichever is first. A test that needs an answer waits for it with `done` and a
    /// generous limit, so a loaded machine answering late is not a failure.
    public func receive(within limit: Duration, until done: (Received) -> Bool = { _ in false }) async -> Received {
        let start = ContinuousClock.now
        var received = Received(bytes: [], closed: false, closedAfter: nil)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while ContinuousClock.now - start < limit {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received.bytes += buffer[..<count]
                if done(received) { return received }
            } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                received.closed = true
                received.closedAfter = ContinuousClock.now - start
                return received
            } else {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        return received
    }

    /// Closes the connection now.
    public func close() {
        shutdown(socket, Int32(SHUT_RDWR))
    }
}
