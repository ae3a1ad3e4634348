import CCurl

/// A failed `curl_easy_perform`, with what is needed to explain it, and its translation into
/// ``HTTPClientError``: curl's ninety-odd codes become the handful of cases a caller acts on.
struct CurlFailure {
    var code: CURLcode
    /// curl's message, already scrubbed of the URL's credentials.
    var detail: String
    /// Whether any request bytes went out, i.e. a connection was established.
    var requestSent: Bool
    /// Body bytes received off the wire before the failure.
    var receivedBytes: Int
    var state: TransferState

    func error(for request: PreparedRequest, configuration: HTTPClientConfiguration) -> any Error {
        let endpoint = request.endpoint
        let curlCode = Int(code.rawValue)
        switch code {
        case CURLE_ABORTED_BY_CALLBACK where state.cancellation.isCancelled:
            return CancellationError()
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return HTTPClientError.dnsFailure(endpoint: endpoint, detail: detail)
        case CURLE_COULDNT_CONNECT:
            return HTTPClientError.connectionFailed(endpoint: endpoint, detail: detail)
        case CURLE_OPERATION_TIMEDOUT:
            // While connecting curl applies the smaller of the two limits.
            return requestSent
                ? HTTPClientError.timedOut(endpoint: endpoint, phase: .total, limit: configuration.totalTimeout, detail: detail)
                : HTTPClientError.timedOut(endpoint: endpoint, phase: .connect, limit: configuration.effectiveConnectTimeout, detail: detail)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_ENGINE_NOTFOUND,
             CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_USE_SSL_FAILED,
             CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_SHUTDOWN_FAILED,
             CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT:
            return HTTPClientError.tls(endpoint: endpoint, curlCode: curlCode, detail: detail)
        case CURLE_PARTIAL_FILE:
            return HTTPClientError.truncatedBody(
                endpoint: endpoint, expected: state.announcedLength, received: receivedBytes, detail: detail
            )
        case CURLE_FILESIZE_EXCEEDED:
            return HTTPClientError.responseTooLarge(endpoint: endpoint, limit: configuration.maxResponseSize)
        case CURLE_WRITE_ERROR where state.exceededLimit:
            return HTTPClientError.responseTooLarge(endpoint: endpoint, limit: configuration.maxResponseSize)
        case CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_HTTP3:
            return HTTPClientError.connectionLost(endpoint: endpoint, curlCode: curlCode, detail: detail)
        default:
            return HTTPClientError.other(endpoint: endpoint, curlCode: curlCode, detail: detail)
        }
    }
}
