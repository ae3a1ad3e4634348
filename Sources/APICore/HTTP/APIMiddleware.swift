import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PipelineCore

/// The paths the API serves, as the router matches them (empty segments ignored, as
/// Hummingbird's trie does), so a method check can tell a known path from an unknown one.
public enum APIPaths {
    /// Path templates; `{…}` matches any one segment.
    public static let templates = [
        "/etl_runs", "/etl_runs/{run_id}", "/etl_runs/{run_id}/dlq", "/etl_runs/{run_id}/events",
        "/etl_runs/{run_id}/dlq/facets/{column}", "/users", "/users/{id}", "/users/facets/{column}", "/health", "/openapi.json",
        "/metrics",
        // The HTML dashboard (DashboardRoutes); `/ui/` also matches `/ui`.
        "/", "/ui/", "/ui/runs/{run_id}", "/ui/users", "/ui/static/{file}",
    ]

    private static let split: [(template: String, segments: [Substring])] = templates.map { ($0, $0.split(separator: "/")) }

    public static func isKnown(_ path: String) -> Bool {
        template(of: path) != nil
    }

    /// The template `path` matches (`/etl_runs/abc/dlq` → `/etl_runs/{run_id}/dlq`), if any.
    public static func template(of path: String) -> String? {
        let segments = path.split(separator: "/")
        return split.first { template in
            template.segments.count == segments.count
                && zip(template.segments, segments).allSatisfy { pattern, segment in pattern.hasPrefix("{") || pattern == segment }
        }?.template
    }

    /// The `route` label of the HTTP metrics: the template, or `unmatched` for any other path.
    public static func route(of path: String) -> String {
        template(of: path) ?? "unmatched"
    }
}

/// Wraps every request, matched or not:
///
/// - answers 421 to a request whose `Host` is not in `API_ALLOWED_HOSTS` (``AllowedHosts``),
///   and 400 to one with two `Host` headers, before anything else;
/// - answers 405 with `Allow: GET, HEAD` for any other method on a known path (Hummingbird's
///   router alone answers those 404);
/// - turns every error into the JSON error shape (``APIError``): 404 for unknown paths, 500 for
///   anything unexpected, whose details go to the log and not to the client;
/// - strips the body of HEAD responses, errors included;
/// - logs one line per request: method, path, status and duration in milliseconds;
/// - counts it, with its latency, in the HTTP metrics of `GET /metrics` (``APIMetrics``).
public struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger
    let allowedHosts: AllowedHosts
    let metrics: APIMetrics

    public init(logger: Logger, allowedHosts: AllowedHosts, metrics: APIMetrics = APIMetrics()) {
        self.logger = logger
        self.allowedHosts = allowedHosts
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let path = request.uri.path
        var response: Response
        // The first Host header is the authority; NIO leaves any further one among the fields.
        let host = request.head.authority
        if request.headers[HTTPField.Name("Host")!] != nil {
            response = APIError.duplicateHost.response
        } else if !allowedHosts.allows(host: host) {
            response = APIError.misdirected(host: host ?? "").response
        } else if request.method != .get, request.method != .head, APIPaths.isKnown(path) {
            response = APIError.methodNotAllowed(request.method, path: path).response
        } else {
            do {
                response = try await next(request, context)
            } catch let error as APIError {
                response = error.response
            } catch let error as DatabaseNotReady {
                response = APIError.databaseNotReady(error.reason).response
            } catch let error as HTTPError where error.status == .notFound {
                response = APIError.unknownPath(path).response
            } catch let error as any HTTPResponseError {
                response = APIError(error.status, error.status.reasonPhrase.lowercased()).response
            } catch {
                logger.error("request failed", metadata: ["method": "\(request.method.rawValue)", "path": "\(path)", "error": "\(error)"])
                response = APIError.internalError.response
            }
        }
        if request.method == .head {
            response = response.createHeadResponse()
        }
        let elapsed = ContinuousClock.now - started
        metrics.recordRequest(method: request.method.rawValue, path: path, status: response.status.code, duration: elapsed)
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": "\(request.method.rawValue)",
            // Query values are redacted like every URL the stages log (`URLRedaction`).
            "path": "\(URLRedaction.redact(request.uri.query.map { "\(path)?\($0)" } ?? path))",
            "status": .stringConvertible(response.status.code),
            "duration_ms": .stringConvertible((milliseconds * 100).rounded() / 100),
        ]
        if response.status == .misdirectedRequest { metadata["host"] = "\(host ?? "")" }
        logger.info("request", metadata: metadata)
        return response
    }
}
