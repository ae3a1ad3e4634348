import HTTPTypes
import Hummingbird

/// HTML responses of the dashboard, all with the same security headers: a Content-Security-Policy
/// that allows only this server's own style sheet and script (no inline script or style, no
/// other origin, no framing), `nosniff`, no referrer, and no caching of pages that change as
/// runs progress.
enum DashboardPage {
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: contentSecurityPolicy,
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
    ]

    static func html(_ text: String, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        headers.append(contentsOf: securityHeaders)
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A static file of the dashboard (its style sheet or script).
    static func asset(_ bytes: [UInt8], contentType: String) -> Response {
        var headers: HTTPFields = [.contentType: contentType, .cacheControl: "public, max-age=300"]
        headers.append(contentsOf: securityHeaders)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The error page: the status as the heading and the API's own sentence for the error (the
    /// same as the JSON answer's `error`). `refreshing` marks it as a page to refresh (the
    /// database not ready yet), so it turns into the dashboard once the saver created it.
    static func error(
        _ resources: DashboardResources, status: HTTPResponse.Status, message: String, detail: String? = nil,
        refreshing: Bool = false, headers: HTTPFields = [:]
    ) -> Response {
        var context: [String: Any] = [
            "title": "\(status.code) \(status.reasonPhrase)", "heading": "\(status.code) \(status.reasonPhrase)", "message": message,
            "inFlight": refreshing,
        ]
        if let detail { context["detail"] = detail }
        return html(resources.render("error", context), status: status, headers: headers)
    }

    /// The answer when the templates themselves are missing: plain text, since there is nothing
    /// to render HTML with.
    static func missing(_ error: DashboardResourcesMissing) -> Response {
        var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
        headers.append(contentsOf: securityHeaders)
        return Response(
            status: .internalServerError, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "dashboard unavailable: \(error)\n")))
    }
}
