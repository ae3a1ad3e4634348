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

    /// 404 for an id that names nothing.
    public static func notFound(_ what: String, _ key: String, _ value: JSONValue) -> APIError {
        APIError(.notFound, "no \(what) with \(key) \(JSONWriter.string(value))", detail: [JSONMember(key, value)].asObject)
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

    /// 500, with nothing of the underlying error in the body (it is logged instead).
    public static let internalError = APIError(.internalServerError, "internal error: see the API's log", detail: .null)

    public var json: JSONValue { ["error": .string(message), "detail": detail] }

    public var response: Response {
        var response = JSONResponse.make(json, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}

extension Array where Element == JSONMember {
    var asObject: JSONValue { .object(self) }
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
