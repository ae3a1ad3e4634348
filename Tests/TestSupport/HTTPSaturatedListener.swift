import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A 127.0.0.1 port where a TCP connect hangs, as with a firewalled host, to test a connect
/// timeout on loopback: a listener with backlog 0 that never accepts, its queue filled by
/// connections of our own, so Linux drops further SYNs and the client retransmits until it gives up.
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
            guard let socket = try? LoopbackSocket.make(Int32(SOCK_NONBLOCK.rawValue)) else { continue }
            _ = LoopbackSocket.connect(socket, port: port)
            fillers.append(socket)
        }
        self.fillers = fillers
        // Backlog 0 holds one connection: the queue is full once a filler's handshake is done.
        // Waited for, not assumed after a fixed time a loaded machine can miss (the client's
        // connect would then succeed and the test see a total timeout instead).
        let deadline = ContinuousClock.now + .seconds(30)
        while !fillers.contains(where: Self.isConnected), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await Task.sleep(for: .milliseconds(50))  // for the server's side of that handshake
    }

    private static func isConnected(_ socket: Int32) -> Bool {
        var entry = pollfd(fd: socket, events: Int16(POLLOUT), revents: 0)
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return poll(&entry, 1, 0) == 1 && getsockopt(socket, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    deinit {
        for socket in fillers { close(socket) }
        close(listener)
    }
}
