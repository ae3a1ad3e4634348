import HTTPTypes
import Hummingbird
import PipelineJSON

/// Every error the API answers with, as `{"error": "...", "detail": ...}`.
///
/// `error` is a sentence for a person; `detail` is an object a program can use (which parameter,
/// which id, which methods), or `null`.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var message: String
    public var detail: JSONValue
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, detail: JSONValue = .null, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers
    }

    /// 400: a query or path parameter that cannot be used, named with the form it must take.
    public static func badParameter(_ name: String, in location: String, value: String, expected: String) -> APIError {
        APIError(
            .badRequest, "invalid \(location) parameter '\(name)': expected \(expected)",
            detail: ["parameter": .string(name), "in": .string(location), "value": .string(value), "expected": .string(expected)])
    }

    /// 400 for a value outside an allow-list (`sort` columns, facet columns): `detail.allowed` lists it.
    public static func notAllowed(_ name: String, in location: String, value: String, expected: String, allowed: [String]) -> APIError {
        var error = badParameter(name, in: location, value: value, expected: expected)
        error.detail = .object((error.detail.objectValue ?? []) + [JSONMember("allowed", .array(allowed.map { .string($0) }))])
        return error
    }

    /// 404 for an id that names nothing.
    public static func notFound(_ what: String, _ key: String, _ value: JSONValue) -> APIError {
        APIError(.notFound, "no \(what) with \(key) \(JSONWriter.string(value))", detail: .object([JSONMember(key, value)]))
    }

    /// 404 for a path the API does not serve.
    public static func unknownPath(_ path: String) -> APIError {
        APIError(.notFound, "no such endpoint: \(path) (GET /openapi.json lists them)", detail: ["path": .string(path)])
    }

    /// 405 for a method other than GET or HEAD on a path the API serves.
    public static func methodNotAllowed(_ method: HTTPRequest.Method, path: String) -> APIError {
        APIError(
            .methodNotAllowed, "method \(method.rawValue) is not allowed on \(path): the API is read-only",
            detail: ["method": .string(method.rawValue), "allowed": ["GET", "HEAD"]],
            headers: [.allow: "GET, HEAD"])
    }

    /// 503 while the saver has not created the database.
    public static func databaseNotReady(_ reason: String) -> APIError {
        APIError(.serviceUnavailable, "the database is not ready yet", detail: ["reason": .string(reason)], headers: [.retryAfter: "5"])
    }

    /// 421 for a `Host` that is not in `API_ALLOWED_HOSTS` (``AllowedHosts``): the request was
    /// meant for another server, or comes from a page that rebound its own name to this address.
    public static func misdirected(host: String) -> APIError {
        APIError(
            .misdirectedRequest, "this server does not answer to the host '\(host)': see API_ALLOWED_HOSTS",
            detail: ["host": .string(host)])
    }

    /// 400 for a request with more than one `Host` header (RFC 9112, 3.2).
    public static let duplicateHost = APIError(.badRequest, "more than one Host header", detail: ["header": "Host"])

    /// 400 for a request NIO's HTTP parser rejects, below the router (``MalformedRequestHandler``);
    /// 431 when its header section is larger than the parser accepts.
    public static func malformedRequest(reason: String, headersTooLarge: Bool) -> APIError {
        headersTooLarge
            ? APIError(.requestHeaderFieldsTooLarge, "the request's headers are too large", detail: ["reason": .string(reason)])
            : APIError(.badRequest, "malformed HTTP request: it cannot be parsed", detail: ["reason": .string(reason)])
    }

    /// 503 for a connection over `API_MAX_CONNECTIONS` (``ConnectionLimiter``), then closed.
    public static func tooManyConnections(limit: Int) -> APIError {
        APIError(
            .serviceUnavailable, "the API is serving as many connections as it may (API_MAX_CONNECTIONS): try again shortly",
            detail: ["max_connections": .int(limit)], headers: [.retryAfter: "1"])
    }

    /// 500, with nothing of the underlying error in the body (it is logged instead).
    public static let internalError = APIError(.internalServerError, "internal error: see the API's log", detail: .null)

    public var json: JSONValue { ["error": .string(message), "detail": detail] }

    /// The JSON body, for the channel handlers that answer below the router.
    public var body: [UInt8] { JSONWriter.bytes(json) }

    public var response: Response {
        var response = JSONResponse.make(json, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// Builds `application/json` responses from ``JSONValue`` (Hummingbird sets `Content-Length` from the body).
public enum JSONResponse {
    public static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        make(bytes: JSONWriter.bytes(value), status: status, headers: extra)
    }

    public static func make(bytes: [UInt8], status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        headers.append(contentsOf: extra)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
