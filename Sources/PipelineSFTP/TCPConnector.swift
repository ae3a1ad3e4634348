import Glibc

/// Opens the TCP connection libssh2 runs over, with a time limit.
///
/// libssh2 takes an already connected socket and `connect(2)` alone can block for minutes on
/// an unreachable address, so the connect is non-blocking and bounded with `poll(2)`.
enum TCPConnector {
    /// Resolves `host` and connects to the first address that answers within `timeout`.
    ///
    /// - Returns: a connected socket; the caller owns it.
    /// - Throws: ``SFTPError`` of kind `.nameResolution`, `.connect` (with the `errno`) or `.timeout`.
    static func connect(host: String, port: Int, timeout: Duration, endpoint: String) throws(SFTPError) -> Int32 {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)

        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var addresses: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &addresses)
        guard status == 0, let first = addresses else {
            throw SFTPError(
                kind: .nameResolution, endpoint: endpoint, operation: "connect",
                detail: "cannot resolve host \"\(host)\": \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(addresses) }

        var lastError: SFTPError?
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            do {
                return try connectOne(info.pointee, deadline: deadline, timeout: timeout, endpoint: endpoint)
            } catch {
                lastError = error
                if error.kind == .timeout { break }  // the whole budget is spent
            }
        }
        throw lastError ?? SFTPError(
            kind: .nameResolution, endpoint: endpoint, operation: "connect",
            detail: "host \"\(host)\" resolved to no usable address")
    }

    private static func connectOne(
        _ info: addrinfo, deadline: ContinuousClock.Instant, timeout: Duration, endpoint: String
    ) throws(SFTPError) -> Int32 {
        let type = info.ai_socktype | Int32(SOCK_CLOEXEC.rawValue)
        let fd = socket(info.ai_family, type, info.ai_protocol)
        guard fd >= 0 else { throw failure(errno, endpoint) }
        var keep = false
        defer { if !keep { close(fd) } }

        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { throw failure(errno, endpoint) }
            var pending = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            while true {
                let remaining = ContinuousClock.now.duration(to: deadline)
                guard remaining > .zero else { throw timedOut(timeout, endpoint) }
                let ready = poll(&pending, 1, Int32(remaining.wholeMilliseconds))
                if ready > 0 { break }
                if ready == 0 { throw timedOut(timeout, endpoint) }
                if errno != EINTR { throw failure(errno, endpoint) }
            }
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length) == 0 else {
                throw failure(errno, endpoint)
            }
            guard socketError == 0 else { throw failure(socketError, endpoint) }
        }
        // Back to blocking: libssh2 manages the socket's mode itself from here on.
        _ = fcntl(fd, F_SETFL, flags)
        // SFTP requests are small and answered one by one (stat, open, close): do not let
        // Nagle's algorithm hold them back.
        var on: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        keep = true
        return fd
    }

    private static func failure(_ code: Int32, _ endpoint: String) -> SFTPError {
        SFTPError(
            kind: .connect, endpoint: endpoint, operation: "connect",
            detail: describeErrno(code), posixErrno: code)
    }

    private static func timedOut(_ timeout: Duration, _ endpoint: String) -> SFTPError {
        SFTPError(
            kind: .timeout, endpoint: endpoint, operation: "connect",
            detail: "TCP connect timed out after \(timeout)", posixErrno: ETIMEDOUT)
    }
}

/// `strerror` text with the symbolic name of the usual network errors: "connection refused
/// (ECONNREFUSED)".
func describeErrno(_ code: Int32) -> String {
    let names: [Int32: String] = [
        ECONNREFUSED: "ECONNREFUSED", ECONNRESET: "ECONNRESET", ETIMEDOUT: "ETIMEDOUT",
        EHOSTUNREACH: "EHOSTUNREACH", ENETUNREACH: "ENETUNREACH", ENOENT: "ENOENT",
        EACCES: "EACCES", EPIPE: "EPIPE", EISDIR: "EISDIR", ENOSPC: "ENOSPC",
    ]
    let text = String(cString: strerror(code)).lowercased()
    return names[code].map { "\(text) (\($0))" } ?? "\(text) (errno \(code))"
}
