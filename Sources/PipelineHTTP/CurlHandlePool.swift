import Synchronization

/// Idle easy handles waiting for the next request.
///
/// Reuse keeps connections alive across requests (each handle has its own connection cache);
/// lending each handle to one request at a time keeps concurrent requests from ever sharing
/// one, which libcurl forbids. The pool never makes a request wait: with no idle handle a new
/// one is made, and a returned handle beyond ``maxIdle`` is dropped (closing its connections),
/// so the pool shrinks back after a burst.
final class CurlHandlePool: Sendable {
    private let idle = Mutex<[CurlEasyHandle]>([])
    private let maxIdle: Int

    init(maxIdle: Int) {
        self.maxIdle = maxIdle
    }

    /// An idle handle (the most recently used, whose connection is likeliest still open), or
    /// a new one; `nil` only when libcurl cannot allocate one.
    func checkOut() -> CurlEasyHandle? {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        return CurlEasyHandle()
    }

    /// Returns a handle after its transfer finished, successful or not (curl closes a broken
    /// connection itself, so a handle is always fit for reuse).
    func checkIn(_ handle: CurlEasyHandle) {
        idle.withLock { handles in
            if handles.count < maxIdle { handles.append(handle) }
        }
    }
}
