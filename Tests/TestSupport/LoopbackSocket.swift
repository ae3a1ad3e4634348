import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The loopback sockets tests need: a free port, a listener that never answers, a client.
/// Only ever 127.0.0.1.
enum LoopbackSocket {
    /// A new TCP socket, `flags` (such as SOCK_NONBLOCK) added to its type.
    static func make(_ flags: Int32 = 0) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | flags, 0)
        guard socket >= 0 else { throw LoopbackSocketError(call: "socket", code: errno) }
        return socket
    }

    /// Runs `call` (bind, connect, getsockname) on 127.0.0.1:`port` as a `sockaddr`; returns its
    /// result and the port the address holds afterwards.
    static func withAddress(
        port: UInt16, _ call: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) -> (result: Int32, port: UInt16) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call($0, &length) }
        }
        return (result, UInt16(bigEndian: address.sin_port))
    }

    /// `connect(2)` to 127.0.0.1:`port`: 0, or -1 with `errno` set.
    static func connect(_ socket: Int32, port: UInt16) -> Int32 {
        withAddress(port: port) { Glibc.connect(socket, $0, $1.pointee) }.result
    }

    /// A TCP socket listening on 127.0.0.1 at `port` (one the kernel picks when 0), and that port.
    static func listen(port: UInt16 = 0, backlog: Int32) throws -> (Int32, UInt16) {
        let socket = try make()
        func check(_ call: String, _ result: Int32) throws {
            guard result == 0 else { defer { close(socket) }; throw LoopbackSocketError(call: call, code: errno) }
        }
        try check("bind", withAddress(port: port) { bind(socket, $0, $1.pointee) }.result)
        try check("listen", Glibc.listen(socket, backlog))
        let named = withAddress(port: 0) { getsockname(socket, $0, $1) }
        try check("getsockname", named.result)
        return (socket, named.port)
    }
}

/// A 127.0.0.1 port with nothing listening right now, for a server of a test's own (a fixture,
/// the API, a Redis or sshd): drawn at random from 20000..<32768 and checked by binding it. Below
/// Linux's ephemeral range, so no outgoing connection takes it while such a server is down
/// between a stop and a start; above the ports scripts/test.sh configures by default.
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
