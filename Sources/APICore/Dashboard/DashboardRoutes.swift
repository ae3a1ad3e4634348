import Foundation
import HTTPTypes
import Hummingbird
import PipelineCore

/// The HTML dashboard (docs/API.md, "Dashboard"): every page under `/ui/`, so no JSON path
/// changes its answer; `GET /` redirects to `/ui/`.
///
/// Pages read through the same ``LazyReader``, ``Queries`` and masking as the JSON endpoints and
/// validate their parameters the same way (``QueryParameters``); every value reaches the HTML
/// through a Mustache `{{ }}`, which escapes `<`, `>`, `&`, `"` and `'`. Errors are pages too:
/// 400 for a bad parameter, 404 for an unknown run or path, 503 while the database is not ready.
public struct DashboardRoutes: Sendable {
    let database: LazyReader
    let masking: SecretMasking
    let resources: Result<DashboardResources, DashboardResourcesMissing>

    public init(
        database: LazyReader, masking: SecretMasking = SecretMasking(),
        resources: Result<DashboardResources, DashboardResourcesMissing> = DashboardResources.shared
    ) {
        self.database = database
        self.masking = masking
        self.resources = resources
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/") { _, _ in
            var headers: HTTPFields = [.location: "/ui/", .contentLength: "0"]
            headers.append(contentsOf: DashboardPage.securityHeaders)
            return Response(status: .found, headers: headers)
        }
        router.get("/ui") { request, _ in try await page { try await runsPage(request, $0) } }
        router.get("/ui/runs/:run_id") { request, context in
            let id = try context.parameters.require("run_id")
            return try await page { try await runPage(request, runID: PathParameter.decode(id), $0) }
        }
        router.get("/ui/users") { request, _ in try await page { try await usersPage(request, $0) } }
        router.get("/ui/static/:file") { _, context in
            let file = try context.parameters.require("file")
            return try await page { resources in
                guard let asset = resources.assets[file] else { throw APIError.unknownPath("/ui/static/" + file) }
                return DashboardPage.asset(asset.bytes, contentType: asset.contentType)
            }
        }
        // Any other path under /ui/ is a 404 page. The router does not fall back from a static
        // segment to `**`, so the prefixes of the routes above need routes of their own.
        for path in ["/ui/**", "/ui/runs", "/ui/static"] {
            router.get(RouterPath(path)) { request, _ in try await page { _ in throw APIError.unknownPath(request.uri.path) } }
        }
    }

    /// Runs `body` with the templates, turning the API's errors into HTML error pages.
    private func page(_ body: (DashboardResources) async throws -> Response) async throws -> Response {
        let resources: DashboardResources
        switch self.resources {
        case .success(let loaded): resources = loaded
        case .failure(let error): return DashboardPage.missing(error)
        }
        do {
            return try await body(resources)
        } catch let error as APIError {
            let message = error.status == .notFound && error.detail["path"] != nil
                ? "There is no page at \(error.detail["path"]?.stringValue ?? ""). The dashboard's pages are /ui/, /ui/runs/{run_id} and /ui/users."
                : error.message
            return DashboardPage.error(resources, status: error.status, message: message, headers: error.headers)
        } catch let error as DatabaseNotReady {
            return DashboardPage.error(
                resources, status: .serviceUnavailable,
                message: "The database is not ready yet: the saver creates it with the first run. This page refreshes itself.",
                detail: error.reason, refreshing: true, headers: [.retryAfter: "5"])
        }
    }
}
