import CCurl

/// libcurl's process-wide initialisation, done once before the first handle is made.
///
/// `curl_global_init` must run before any other curl call and, in curl 7.88, is not safe to
/// race with itself: a `static let` gives exactly-once, thread-safe lazy initialisation.
/// It is never undone (`curl_global_cleanup`), since other code in the process may use curl.
enum CurlGlobal {
    private static let status: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    static func ensureInitialized() {
        precondition(status == CURLE_OK, "curl_global_init failed: \(String(cString: curl_easy_strerror(status)))")
    }
}
