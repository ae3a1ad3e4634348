import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The loopback sockets tests need: a free port, a listener that never answers. Only ever
/// 127.0.0.1.
enum LoopbackSocket {
    /// A TCP socket listening on 127.0.0.1 at `port` (one the kernel picks when 0), and that port.
    static func listen(port: UInt16 = 0, backlog: Int32) throws -> (Int32, UInt16) {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw LoopbackSocketError(call: "socket", code: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { defer { close(socket) }; throw LoopbackSocketError(call: "bind", code: errno) }
        guard Glibc.listen(socket, backlog) == 0 else { defer { close(socket) }; throw LoopbackSocketError(call: "listen", code: errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard named == 0 else { defer { close(socket) }; throw LoopbackSocketError(call: "getsockname", code: errno) }
        return (socket, UInt16(bigEndian: address.sin_port))
    }
}

/// A 127.0.0.1 port with nothing listening right now: a connection to it is refused, and a
/// server a test starts on it (a fixture, the API, a Redis or sshd of its own) gets a port no
/// suite or other test run is configured with.
///
/// Drawn at random from 20000..<32768 and checked by binding it: below Linux's ephemeral range
/// (32768 and up), so the kernel never hands it to an outgoing connection as its source port
/// while a server is down between a stop and a start, and above the ports scripts/test.sh
/// configures (16379, 12222, 16389 and 12230 by default). Nothing is derived from another
/// suite's port, so suites never collide on one.
public func freePort() throws -> Int {
    for _ in 0..<200 {
        if let (socket, port) = try? LoopbackSocket.listen(port: UInt16.random(in: 20_000..<32_768), backlog: 1) {
            close(socket)
            return Int(port)
        }
    }
    throw LoopbackSocketError(call: "bind (no free port in 20000..<32768)", code: EADDRINUSE)
}

/// Listens on 127.0.0.1 and never accepts or answers: the kernel completes the TCP handshake
/// from the backlog, so a client connects and then waits for a reply that never comes (a
/// server that hangs before its greeting).
public final class SilentListener: Sendable {
    public let port: Int
    private let socket: Int32

    public init() throws {
        let (socket, port) = try LoopbackSocket.listen(backlog: 16)
        self.socket = socket
        self.port = Int(port)
    }

    deinit { close(socket) }
}

/// A failed socket call, with `errno`'s text.
public struct LoopbackSocketError: Error, CustomStringConvertible {
    public var call: String
    public var code: Int32
    public var description: String { "\(call) failed: \(String(cString: strerror(code)))" }
}
