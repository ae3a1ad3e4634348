import CCurl
import Dispatch
import PipelineCore

/// What the extractor needs from HTTP: a GET that returns the whole response. A protocol so
/// that stages can be tested against a scripted client instead of the network.
public protocol HTTPClient: Sendable {
    /// Fetches `url`; any status is a response, only a failed transfer throws.
    func get(_ url: String, headers: [String: String]) async throws -> HTTPResponse
}

extension HTTPClient {
    public func get(_ url: String) async throws -> HTTPResponse {
        try await get(url, headers: [:])
    }
}

/// An HTTP GET client over libcurl's easy interface.
///
/// Each request borrows an easy handle from a small pool and runs the blocking
/// `curl_easy_perform` on that handle's queue (``CurlEasyHandle``), so several requests may be
/// in flight at once, each on its own handle and thread. Cancelling the calling task aborts its transfer within about a second (curl's progress
/// callback checks a flag) and the call throws `CancellationError`.
public final class CurlHTTPClient: HTTPClient {
    public let configuration: HTTPClientConfiguration
    private let pool: CurlHandlePool

    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) {
        CurlGlobal.ensureInitialized()
        self.configuration = configuration
        self.pool = CurlHandlePool(maxIdle: configuration.maxIdleHandles)
    }

    /// Fetches `url` with the given extra request headers.
    ///
    /// - Returns: the response, whatever its status; use ``HTTPResponse/requireSuccess(now:)``
    ///   to turn a non-2xx into an error.
    /// - Throws: ``HTTPClientError`` when the transfer fails; `CancellationError` when the
    ///   task is cancelled.
    public func get(_ url: String, headers: [String: String] = [:]) async throws -> HTTPResponse {
        let request = try PreparedRequest(url: url, headers: headers)
        try Task.checkCancellation()
        guard let handle = pool.checkOut() else {
            throw HTTPClientError.other(
                endpoint: request.endpoint, curlCode: Int(CURLE_OUT_OF_MEMORY.rawValue), detail: "curl_easy_init failed"
            )
        }
        let cancellation = CancellationFlag()
        let configuration = configuration
        let pool = pool
        return try await withTaskCancellationHandler {
            try await handle.queue.run {
                defer { pool.checkIn(handle) }
                return try handle.perform(request, configuration: configuration, cancellation: cancellation).get()
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}
