import GRDB
import HTTPTypes
import Hummingbird
import Logging
import PipelineCore
import PipelineJSON

/// The API's endpoints (docs/API.md), each a read of the database through ``LazyReader``.
///
/// Parameters are validated before the database is touched, so a bad request is a 400 even
/// while the database is not ready (503 then for valid requests).
public struct APIRoutes: Sendable {
    public let database: LazyReader
    /// The second masking of every payload served (`SECRET_FIELDS`, as the transformer's).
    public let masking: SecretMasking
    /// The HTTP metrics the middleware records, served with the database's at `/metrics`.
    public let metrics: APIMetrics

    public init(database: LazyReader, masking: SecretMasking = SecretMasking(), metrics: APIMetrics = APIMetrics()) {
        self.database = database
        self.masking = masking
        self.metrics = metrics
    }

    public func register<Context: RequestContext>(on router: Router<Context>) {
        router.get("/health") { _, _ in try await health() }
        router.get("/openapi.json") { _, _ in JSONResponse.make(bytes: OpenAPIDocument.bytes) }
        router.get("/metrics") { _, _ in try await metricsText() }
        router.get("/etl_runs") { request, _ in try await runs(request) }
        router.get("/etl_runs/:run_id") { _, context in try await run(context.parameters.require("run_id")) }
        router.get("/etl_runs/:run_id/dlq") { request, context in try await deadLetters(request, context.parameters.require("run_id")) }
        router.get("/etl_runs/:run_id/events") { _, context in try await events(context.parameters.require("run_id")) }
        router.get("/etl_runs/:run_id/dlq/facets/:column") { request, context in
            try await deadLetterFacet(request, context.parameters.require("run_id"), context.parameters.require("column"))
        }
        router.get("/users") { request, _ in try await users(request) }
        router.get("/users/facets/:column") { request, context in try await userFacet(request, context.parameters.require("column")) }
        router.get("/users/:id") { _, context in try await user(context.parameters.require("id")) }
    }

    /// Always 200 while the process serves: `database` is `ready`, or `not_ready` with the reason
    /// (no file yet, or no tables yet). The data endpoints answer 503 until it is ready.
    func health() async throws -> Response {
        do {
            _ = try await database.pool()
            return JSONResponse.make(["status": "ok", "database": "ready", "detail": nil])
        } catch let error as DatabaseNotReady {
            return JSONResponse.make(["status": "ok", "database": "not_ready", "detail": .string(error.reason)])
        }
    }

    /// The Prometheus text format (version 0.0.4): always 200, with `etl_database_ready 0` and
    /// only the HTTP metrics while the database is not ready.
    func metricsText() async throws -> Response {
        let bytes = try await metrics.scrape(database: database)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func runs(_ request: Request) async throws -> Response {
        let query = QueryParameters(query: request.uri.query)
        let page = try query.pagination()
        let status = try query.runStatus()
        let sort = try query.sort(allowed: Queries.runSortColumns)
        let format = try ResponseFormat.negotiate(query: query, accept: request.headers[.accept])
        let result = try await database.read { db in try Queries.runs(db, status: status, page: page, sort: sort) }
        return list(result.items.map(\.json), total: result.total, format: format, columns: RunResource.keys)
    }

    func run(_ rawID: String) async throws -> Response {
        let id = PathParameter.decode(rawID)
        guard let run = try await database.read({ db in try Queries.run(db, id: id) }) else {
            throw APIError.notFound("run", "run_id", .string(id))
        }
        return JSONResponse.make(run.json)
    }

    func deadLetters(_ request: Request, _ rawID: String) async throws -> Response {
        let id = PathParameter.decode(rawID)
        let query = QueryParameters(query: request.uri.query)
        let page = try query.pagination()
        let format = try ResponseFormat.negotiate(query: query, accept: request.headers[.accept])
        guard let result = try await database.read({ db in try Queries.deadLetters(db, runID: id, page: page, masking: masking) }) else {
            throw APIError.notFound("run", "run_id", .string(id))
        }
        return list(result.items.map(\.json), total: result.total, format: format, columns: DLQResource.keys)
    }

    func events(_ rawID: String) async throws -> Response {
        let id = PathParameter.decode(rawID)
        guard let events = try await database.read({ db in try Queries.events(db, runID: id) }) else {
            throw APIError.notFound("run", "run_id", .string(id))
        }
        return JSONResponse.make(.array(events.map(\.json)))
    }

    func users(_ request: Request) async throws -> Response {
        let query = QueryParameters(query: request.uri.query)
        let page = try query.pagination()
        let department = try query.filter("department")
        let runID = try query.filter("run_id")
        let sort = try query.sort(allowed: Queries.userSortColumns)
        let format = try ResponseFormat.negotiate(query: query, accept: request.headers[.accept])
        let result = try await database.read { db in
            try Queries.users(db, department: department, runID: runID, page: page, sort: sort, masking: masking)
        }
        return list(result.items.map(\.json), total: result.total, format: format, columns: UserResource.keys)
    }

    /// `[{"value", "count"}]`: users per value of a column, under the filters of `/users`.
    func userFacet(_ request: Request, _ rawColumn: String) async throws -> Response {
        let column = try facetColumn(rawColumn, allowed: Queries.userFacetColumns)
        let query = QueryParameters(query: request.uri.query)
        let page = try query.pagination()
        let department = try query.filter("department")
        let runID = try query.filter("run_id")
        let result = try await database.read { db in
            try Queries.userFacet(db, column: column, department: department, runID: runID, page: page)
        }
        return list(result.items.map(\.json), total: result.total, format: .json, columns: [])
    }

    /// `[{"value", "count"}]`: a run's dead-letter rows per rule (or field) of their reasons.
    func deadLetterFacet(_ request: Request, _ rawID: String, _ rawColumn: String) async throws -> Response {
        let id = PathParameter.decode(rawID)
        let column = try facetColumn(rawColumn, allowed: Queries.deadLetterFacetColumns)
        let page = try QueryParameters(query: request.uri.query).pagination()
        guard let result = try await database.read({ db in try Queries.deadLetterFacet(db, runID: id, column: column, page: page) }) else {
            throw APIError.notFound("run", "run_id", .string(id))
        }
        return list(result.items.map(\.json), total: result.total, format: .json, columns: [])
    }

    private func facetColumn(_ raw: String, allowed: [String]) throws(APIError) -> String {
        let column = PathParameter.decode(raw)
        guard allowed.contains(column) else {
            throw APIError.notAllowed("column", in: "path", value: column, expected: "one of " + allowed.joined(separator: ", "), allowed: allowed)
        }
        return column
    }

    func user(_ rawID: String) async throws -> Response {
        let text = PathParameter.decode(rawID)
        guard let id = Int64(text) else {
            throw APIError.badParameter("id", in: "path", value: text, expected: "an integer")
        }
        guard let user = try await database.read({ db in try Queries.user(db, id: id, masking: masking) }) else {
            throw APIError.notFound("user", "id", .number(String(id)))
        }
        return JSONResponse.make(user.json)
    }

    /// A page of a list, as JSON or as CSV (``CSVResponse``), with its `X-Total-Count`.
    private func list(_ items: [JSONValue], total: Int, format: ResponseFormat, columns: [String]) -> Response {
        let headers: HTTPFields = [HTTPField.Name("X-Total-Count")!: String(total), .vary: "Accept"]
        switch format {
        case .json: return JSONResponse.make(.array(items), headers: headers)
        case .csv: return CSVResponse.make(columns: columns, rows: items, headers: headers)
        }
    }
}
