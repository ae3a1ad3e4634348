import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A 127.0.0.1 port where a TCP connect neither succeeds nor is refused: it just hangs, as
/// with a firewalled or overloaded host, which is what a connect timeout needs to be tested
/// on loopback.
///
/// How: a socket listening with backlog 0 that never accepts, its accept queue filled by a few
/// connections of our own; Linux then drops further SYNs instead of answering them, so the
/// client keeps retransmitting until its connect timeout fires.
public final class HTTPSaturatedListener: Sendable {
    public let port: UInt16
    private let listener: Int32
    private let fillers: [Int32]

    public init() async throws {
        let (listener, port) = try LoopbackSocket.listen(backlog: 0)
        self.listener = listener
        self.port = port
        var fillers: [Int32] = []
        for _ in 0..<3 {
            let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard socket >= 0 else { continue }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            fillers.append(socket)
        }
        self.fillers = fillers
        // Let the handshakes of the fillers complete so the queue really is full (a task sleep:
        // usleep would hold a thread of the cooperative pool).
        try await Task.sleep(for: .milliseconds(100))
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    deinit {
        for socket in fillers { close(socket) }
        close(listener)
    }
}
