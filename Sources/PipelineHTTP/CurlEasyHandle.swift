import CCurl
import Dispatch
import PipelineCore

/// One libcurl easy handle, with the serial queue its blocking transfers run on (serial queues
/// are overcommit queues in libdispatch, which start a new thread rather than wait when all of
/// theirs are blocked, so requests on different handles really run in parallel).
///
/// A handle keeps its connection cache between transfers (`curl_easy_reset` keeps it), which
/// is what reusing handles buys: the next page request skips the TCP and TLS handshakes.
///
/// `@unchecked Sendable`: the handle crosses from the calling task to its queue, but its
/// mutable C state is only touched by ``perform(_:configuration:cancellation:)`` on that queue,
/// and ``CurlHandlePool`` lends a handle to one request at a time, so no two threads ever use
/// the `CURL *` at once (which is all libcurl asks of an easy handle).
final class CurlEasyHandle: @unchecked Sendable {
    /// Runs this handle's transfers, one at a time.
    let queue = DispatchQueue(label: "PipelineHTTP.curl-easy-handle")
    private let curl: UnsafeMutableRawPointer
    /// `CURLOPT_ERRORBUFFER`: curl writes its specific explanation here (which host, which
    /// port, how many bytes), far more useful than the generic `curl_easy_strerror` text.
    private let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        CurlGlobal.ensureInitialized()
        guard let curl = curl_easy_init() else { return nil }
        self.curl = curl
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_easy_cleanup(curl)
        errorBuffer.deallocate()
    }

    /// Runs one GET to completion on the calling thread (call it on ``queue``): a response for
    /// any status, ``HTTPClientError`` for a failed transfer, `CancellationError` when
    /// `cancellation` was set.
    func perform(
        _ request: PreparedRequest,
        configuration: HTTPClientConfiguration,
        cancellation: CancellationFlag
    ) -> Result<HTTPResponse, any Error> {
        guard !cancellation.isCancelled else { return .failure(CancellationError()) }
        let state = TransferState(maxResponseSize: configuration.maxResponseSize, cancellation: cancellation)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }

        let start = ContinuousClock.now
        let code: CURLcode = withExtendedLifetime(state) {
            let setup = configure(request, configuration, state: state, headerList: &headerList)
            guard setup == CURLE_OK else { return setup }
            return curl_easy_perform(curl)
        }
        let elapsed = ContinuousClock.now - start

        if code != CURLE_OK {
            return .failure(CurlFailure(
                code: code,
                detail: request.url.scrub(errorText(for: code)),
                requestSent: requestSize > 0,
                receivedBytes: downloadedBytes,
                state: state
            ).error(for: request, configuration: configuration))
        }

        var status = 0
        _ = etl_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        // curl reports a short body as CURLE_PARTIAL_FILE; this catches what it lets through.
        if let announced = state.announcedLength, Self.hasBody(status: status), downloadedBytes != announced {
            return .failure(HTTPClientError.truncatedBody(
                endpoint: request.endpoint, expected: announced, received: downloadedBytes,
                detail: "Content-Length does not match the bytes received"
            ))
        }
        return .success(HTTPResponse(
            status: status, headers: state.headers, body: state.body, elapsed: elapsed, endpoint: request.endpoint
        ))
    }

    /// Sets every option of this request, starting from `curl_easy_reset` so nothing leaks in
    /// from the previous request on this handle (its connections and DNS cache stay).
    private func configure(
        _ request: PreparedRequest,
        _ configuration: HTTPClientConfiguration,
        state: TransferState,
        headerList: inout UnsafeMutablePointer<curl_slist>?
    ) -> CURLcode {
        curl_easy_reset(curl)
        errorBuffer[0] = 0
        let context = Unmanaged.passUnretained(state).toOpaque()
        for header in request.headerLines {
            guard let appended = curl_slist_append(headerList, header) else { return CURLE_OUT_OF_MEMORY }
            headerList = appended
        }
        let headers = headerList
        // curl copies string options (since 7.17), so the C strings need live only for the call.
        let steps: [() -> CURLcode] = [
            { etl_curl_setopt_ptr(self.curl, CURLOPT_ERRORBUFFER, self.errorBuffer) },
            { request.url.unredacted.withCString { etl_curl_setopt_ptr(self.curl, CURLOPT_URL, $0) } },
            { etl_curl_setopt_long(self.curl, CURLOPT_HTTPGET, 1) },
            // No SIGALRM for DNS timeouts: signals and multithreaded processes do not mix.
            { etl_curl_setopt_long(self.curl, CURLOPT_NOSIGNAL, 1) },
            // Only the web: a redirect (or a config typo) must not make curl open file:// or the like.
            { "http,https".withCString { etl_curl_setopt_ptr(self.curl, CURLOPT_PROTOCOLS_STR, $0) } },
            { "http,https".withCString { etl_curl_setopt_ptr(self.curl, CURLOPT_REDIR_PROTOCOLS_STR, $0) } },
            // "" offers every encoding this libcurl decodes (gzip, deflate, br...) and decodes it.
            { "".withCString { etl_curl_setopt_ptr(self.curl, CURLOPT_ACCEPT_ENCODING, $0) } },
            { configuration.userAgent.withCString { etl_curl_setopt_ptr(self.curl, CURLOPT_USERAGENT, $0) } },
            { etl_curl_setopt_long(self.curl, CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.wholeMilliseconds) },
            { etl_curl_setopt_long(self.curl, CURLOPT_TIMEOUT_MS, configuration.totalTimeout.wholeMilliseconds) },
            // Refuses at once a body whose announced length is too large; the write callback
            // enforces the same limit on what actually arrives (chunked, or decompressed).
            { etl_curl_setopt_off(self.curl, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(configuration.maxResponseSize)) },
            { etl_curl_setopt_long(self.curl, CURLOPT_FOLLOWLOCATION, configuration.followRedirects ? 1 : 0) },
            { etl_curl_setopt_long(self.curl, CURLOPT_MAXREDIRS, configuration.maxRedirects) },
            { etl_curl_setopt_ptr(self.curl, CURLOPT_HTTPHEADER, headers) },
            { etl_curl_setopt_write(self.curl, CURLOPT_WRITEFUNCTION, curlWriteCallback) },
            { etl_curl_setopt_ptr(self.curl, CURLOPT_WRITEDATA, context) },
            { etl_curl_setopt_write(self.curl, CURLOPT_HEADERFUNCTION, curlHeaderCallback) },
            { etl_curl_setopt_ptr(self.curl, CURLOPT_HEADERDATA, context) },
            { etl_curl_setopt_long(self.curl, CURLOPT_NOPROGRESS, 0) },
            { etl_curl_setopt_xferinfo(self.curl, curlProgressCallback) },
            { etl_curl_setopt_ptr(self.curl, CURLOPT_XFERINFODATA, context) },
        ]
        for step in steps {
            let code = step()
            guard code == CURLE_OK else { return code }
        }
        return CURLE_OK
    }

    /// curl's specific message for the last failure, else its generic text for `code`.
    private func errorText(for code: CURLcode) -> String {
        let specific = String(cString: errorBuffer).trimmingASCIISpaces
        return specific.isEmpty ? String(cString: curl_easy_strerror(code)) : specific
    }

    /// Body bytes received as they came off the wire (before decompression), which is what a
    /// `Content-Length` counts.
    private var downloadedBytes: Int {
        var value: curl_off_t = 0
        _ = etl_curl_getinfo_off(curl, CURLINFO_SIZE_DOWNLOAD_T, &value)
        return Int(value)
    }

    /// Bytes of request sent: non-zero once connected, even over a reused connection (whose
    /// connect time reads zero), which tells a connect timeout from a total one.
    private var requestSize: Int {
        var value = 0
        _ = etl_curl_getinfo_long(curl, CURLINFO_REQUEST_SIZE, &value)
        return value
    }

    /// Whether a response with this status carries a body whose length `Content-Length` gives
    /// (RFC 9110 §8.6: not 1xx, 204 or 304).
    private static func hasBody(status: Int) -> Bool {
        !(100...199).contains(status) && status != 204 && status != 304
    }
}
