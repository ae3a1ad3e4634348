#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loopback sockets for failure tests: never any address but 127.0.0.1.
enum RedisTestSockets {
    /// A port on 127.0.0.1 with nothing listening: bound to let the kernel pick a free one, then closed.
    static func closedPort() -> Int {
        let fd = boundSocket()
        let port = localPort(fd)
        close(fd)
        return port
    }

    /// A socket bound to 127.0.0.1 on a port the kernel picks.
    fileprivate static func boundSocket() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket() failed: errno \(errno)")
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        precondition(result == 0, "bind(127.0.0.1:0) failed: errno \(errno)")
        return fd
    }

    fileprivate static func localPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        precondition(result == 0, "getsockname failed: errno \(errno)")
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Listens on 127.0.0.1 and never accepts or answers: the kernel completes the TCP handshake
/// from the backlog, so a client connects and then waits for a reply that never comes.
final class RedisSilentListener {
    let port: Int
    private let fd: Int32

    init() {
        fd = RedisTestSockets.boundSocket()
        precondition(listen(fd, 16) == 0, "listen failed: errno \(errno)")
        port = RedisTestSockets.localPort(fd)
    }

    deinit { close(fd) }
}
