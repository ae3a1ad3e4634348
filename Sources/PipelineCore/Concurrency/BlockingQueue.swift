import Dispatch

extension DispatchQueue {
    /// Runs `body` on this queue and suspends the calling task until it returns: how a C library
    /// that blocks its thread (hiredis, libcurl, libssh2) stays off the cooperative pool, whose
    /// few threads every task in the process shares.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            self.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
