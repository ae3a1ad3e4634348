import PipelineCore
import PipelineJSON

/// The OpenAPI 3.1 document served at `GET /openapi.json`, written by hand.
///
/// It describes exactly the routes of ``APIRoutes``: their parameters with the limits
/// ``QueryParameters`` enforces, the shapes of the resources in `Resources.swift`, the
/// `X-Total-Count` header of lists and the error shape of ``APIError``. The tests check that
/// every documented path is routed and every route documented; the contract test
/// (scripts/contract-test.sh) runs schemathesis against a live server with it.
public enum OpenAPIDocument {
    public static let json: JSONValue = [
        "openapi": "3.1.0",
        "info": [
            "title": "etl-pipeline API",
            "version": "1.0.0",
            "description": """
                Read-only access to the ETL pipeline's run ledger and loaded users (SQLite, written by the saver). \
                Every endpoint also answers HEAD; any other method on these paths answers 405 with `Allow: GET, HEAD`. \
                Until the saver has created the database, data endpoints answer 503 and /health reports `"database": "not_ready"`. \
                Every endpoint answers 421 to a request whose Host header is not one the server answers to (API_ALLOWED_HOSTS). \
                A read-only HTML dashboard lives under /ui/ (GET / redirects there): its pages and their error pages are text/html.
                """,
        ],
        "paths": [
            "/etl_runs": [
                "get": operation(
                    id: "listRuns", summary: "Runs, newest first (by started_at)",
                    parameters: [
                        ref("parameters", "limit"), ref("parameters", "offset"), ref("parameters", "status"),
                        sortParameter(Queries.runSortColumns, default: "newest first: -started_at, then -run_id"), ref("parameters", "format"),
                    ],
                    ok: listResponse("Runs, newest first", item: "Run"), errors: ["400", "503"]),
            ],
            "/etl_runs/{run_id}": [
                "get": operation(
                    id: "getRun", summary: "One run",
                    parameters: [ref("parameters", "runIDPath")],
                    ok: objectResponse("The run", schema: "Run"), errors: ["404", "503"]),
            ],
            "/etl_runs/{run_id}/dlq": [
                "get": operation(
                    id: "listRunDeadLetters", summary: "A run's rejected rows with every reason, by line",
                    parameters: [ref("parameters", "runIDPath"), ref("parameters", "limit"), ref("parameters", "offset"), ref("parameters", "format")],
                    ok: listResponse("Rejected rows, by line in raw.jsonl", item: "DeadLetter"), errors: ["400", "404", "503"]),
            ],
            "/etl_runs/{run_id}/dlq/facets/{column}": [
                "get": operation(
                    id: "facetRunDeadLetters",
                    summary: "How many of a run's rejected rows have each rule (or field) among their reasons; a row counts once per value",
                    parameters: [
                        ref("parameters", "runIDPath"), facetColumnParameter(Queries.deadLetterFacetColumns), ref("parameters", "limit"),
                        ref("parameters", "offset"),
                    ],
                    ok: facetResponse("Values with their row counts, most rows first, then by value"), errors: ["400", "404", "503"]),
            ],
            "/etl_runs/{run_id}/events": [
                "get": operation(
                    id: "listRunEvents", summary: "What happened to a run, stage by stage, in order",
                    parameters: [ref("parameters", "runIDPath")],
                    ok: [
                        "description": "Events, oldest first",
                        "content": ["application/json": ["schema": ["type": "array", "items": ref("schemas", "Event")]]],
                    ],
                    errors: ["404", "503"]),
            ],
            "/users": [
                "get": operation(
                    id: "listUsers", summary: "Users (the latest enriched state of each), by id",
                    parameters: [
                        ref("parameters", "limit"), ref("parameters", "offset"),
                        ref("parameters", "department"), ref("parameters", "runIDQuery"),
                        sortParameter(Queries.userSortColumns, default: "id"), ref("parameters", "format"),
                    ],
                    ok: listResponse("Users, by id", item: "User"), errors: ["400", "503"]),
            ],
            "/users/facets/{column}": [
                "get": operation(
                    id: "facetUsers", summary: "How many users have each value of a column, under the filters of /users",
                    parameters: [
                        facetColumnParameter(Queries.userFacetColumns), ref("parameters", "limit"), ref("parameters", "offset"),
                        ref("parameters", "department"), ref("parameters", "runIDQuery"),
                    ],
                    ok: facetResponse("Values with their user counts, most users first, then by value"), errors: ["400", "503"]),
            ],
            "/users/{id}": [
                "get": operation(
                    id: "getUser", summary: "One user",
                    parameters: [
                        [
                            "name": "id", "in": "path", "required": true, "description": "The user's upstream id",
                            "schema": ["type": "integer", "format": "int64"],
                        ],
                    ],
                    ok: objectResponse("The user", schema: "User"), errors: ["400", "404", "503"]),
            ],
            // The HTML dashboard (docs/API.md, "Dashboard"): pages, and their errors as pages.
            "/": [
                "get": plainOperation(
                    id: "dashboardRedirect", summary: "Redirects to the dashboard at /ui/",
                    responses: [
                        "302": ["description": "To /ui/", "headers": ["Location": ["required": true, "schema": ["type": "string", "const": "/ui/"]]]],
                        "200": htmlResponse("The runs page, for a client that follows the redirect"),
                    ]),
            ],
            "/ui/": [
                "get": htmlOperation(
                    id: "dashboardRuns", summary: "Dashboard: the runs, newest first, with counts, durations and a bar per phase",
                    parameters: [ref("parameters", "limit"), ref("parameters", "offset"), ref("parameters", "status")],
                    errors: ["400", "503"]),
            ],
            "/ui/runs/{run_id}": [
                "get": htmlOperation(
                    id: "dashboardRun",
                    summary: "Dashboard: one run's phase timeline, rejected rows per rule, rejected rows (paged), files and events",
                    parameters: [ref("parameters", "runIDPath"), ref("parameters", "limit"), ref("parameters", "offset")],
                    errors: ["400", "404", "503"]),
            ],
            "/ui/users": [
                "get": htmlOperation(
                    id: "dashboardUsers", summary: "Dashboard: users by id, department or run, sorted and paged; an empty field is no filter",
                    parameters: [
                        [
                            "name": "id", "in": "query", "required": false, "description": "Look up one user by id (404 when none has it)",
                            "schema": ["type": "string", "pattern": .string("^(\(DashboardRoutes.userIDPattern))?$")],
                        ],
                        ["name": "department", "in": "query", "required": false, "schema": ["type": "string"]],
                        ["name": "run_id", "in": "query", "required": false, "schema": ["type": "string"]],
                        htmlSortParameter(Queries.userSortColumns),
                        ref("parameters", "limit"), ref("parameters", "offset"),
                    ],
                    errors: ["400", "404", "503"]),
            ],
            "/ui/static/{file}": [
                "get": plainOperation(
                    id: "dashboardAsset", summary: "The dashboard's style sheet and script",
                    parameters: [
                        [
                            "name": "file", "in": "path", "required": true,
                            "schema": ["type": "string", "enum": .array(DashboardResources.assetTypes.keys.sorted().map { .string($0) })],
                        ],
                    ],
                    responses: [
                        "200": [
                            "description": "The file",
                            "content": ["text/css": ["schema": ["type": "string"]], "text/javascript": ["schema": ["type": "string"]]],
                        ],
                        "404": htmlResponse("No such file"),
                    ]),
            ],
            "/health": [
                "get": plainOperation(
                    id: "health", summary: "Liveness, and whether the database is ready",
                    description: """
                        Always 200 while the process serves, so a container health check passes before the first run. \
                        `database` is `ready` once the saver has created the database and its tables, `not_ready` before \
                        (with the reason in `detail`); the data endpoints answer 503 until then.
                        """,
                    responses: ["200": objectResponse("The API is up", schema: "Health")]),
            ],
            "/metrics": [
                "get": plainOperation(
                    id: "metrics", summary: "Prometheus metrics (text format 0.0.4)",
                    description: """
                        The pipeline as the database shows it at the moment of the scrape (etl_runs{status}, etl_table_rows{table}, \
                        etl_dlq_rows{rule}, etl_users_unknown_department, etl_unknown_departments, \
                        etl_last_completed_run_timestamp_seconds, etl_last_completed_run_duration_seconds, \
                        etl_phase_duration_seconds{phase}, etl_database_ready) and the API's own traffic since it started \
                        (http_requests_total{method,route,status}, http_request_duration_seconds{method,route}, by route template). \
                        Always 200: before the database is ready, etl_database_ready is 0 and only the HTTP metrics follow.
                        """,
                    responses: ["200": ["description": "The metrics", "content": ["text/plain": ["schema": ["type": "string"]]]]]),
            ],
            "/openapi.json": [
                "get": plainOperation(
                    id: "openAPI", summary: "This document",
                    responses: [
                        "200": ["description": "The OpenAPI 3.1 document", "content": ["application/json": ["schema": ["type": "object"]]]],
                    ]),
            ],
        ],
        "components": [
            "parameters": [
                "limit": [
                    "name": "limit", "in": "query", "required": false, "description": "Page size",
                    "schema": ["type": "integer", "minimum": 1, "maximum": .int(Pagination.maximumLimit), "default": .int(Pagination.defaultLimit)],
                ],
                "offset": [
                    "name": "offset", "in": "query", "required": false, "description": "Rows to skip",
                    "schema": ["type": "integer", "format": "int64", "minimum": 0, "default": 0],
                ],
                "status": [
                    "name": "status", "in": "query", "required": false, "description": "Only runs with this status",
                    "schema": ["type": "string", "enum": .array(RunStatus.allCases.map { .string($0.rawValue) })],
                ],
                "format": [
                    "name": "format", "in": "query", "required": false,
                    "description": """
                        json (the default) or csv: RFC 4180 with a header row of the JSON keys in order, nested values as JSON text \
                        (docs/API.md). Without it, an Accept header naming text/csv explicitly (not through a wildcard) with a \
                        q at least that of application/json asks for CSV.
                        """,
                    "schema": ["type": "string", "enum": .array(ResponseFormat.allCases.map { .string($0.rawValue) })],
                ],
                "department": [
                    "name": "department", "in": "query", "required": false,
                    "description": "Only users of this department (exact name, as in company.department)",
                    "schema": ["type": "string", "minLength": 1],
                ],
                "runIDQuery": [
                    "name": "run_id", "in": "query", "required": false,
                    "description": "Only users whose latest change came from this run",
                    "schema": ["type": "string", "minLength": 1],
                ],
                "runIDPath": [
                    "name": "run_id", "in": "path", "required": true,
                    "description": "A run id, e.g. 20261122T101500Z-3f9a (UTC start time, a dash, 4 hex digits)",
                    "schema": ["type": "string"],
                ],
            ],
            "headers": [
                "X-Total-Count": [
                    "description": "How many rows match the filters in all, whatever the page",
                    "required": true,
                    "schema": ["type": "integer", "minimum": 0],
                ],
            ],
            "responses": [
                "400": errorResponse("A parameter cannot be used; `detail` names it (parameter, in, value, expected)"),
                "404": errorResponse("No such run or user; `detail` holds the id asked for"),
                "421": errorResponse("The Host header names a host this server does not answer to (API_ALLOWED_HOSTS); `detail.host` holds it"),
                "503": errorResponse("The database is not ready yet (the saver has not created it); `detail.reason` says why"),
            ],
            "schemas": [
                "Error": objectSchema(
                    description: """
                        Every error: 400 bad parameter, 404 unknown id or path, 405 method not allowed (with `Allow: GET, HEAD`), \
                        421 foreign Host, 431 request headers too large, 500 internal error, \
                        503 database not ready or too many connections.
                        """,
                    [
                        "error": ["type": "string", "description": "What went wrong, in words"],
                        "detail": ["description": "Details for programs: an object (which parameter, which id) or null"],
                    ]),
                "Run": objectSchema([
                    "run_id": ["type": "string"],
                    "status": ["type": "string", "enum": .array(RunStatus.allCases.map { .string($0.rawValue) })],
                    "failed_phase": ["type": ["string", "null"], "description": "extract, transform or save when status is failed"],
                    "error": ["type": ["string", "null"], "description": "Why the run failed"],
                    "started_at": ["type": "string", "description": "ISO 8601 UTC"],
                    "finished_at": ["type": ["string", "null"], "description": "ISO 8601 UTC"],
                    "duration_ms": ["type": ["integer", "null"]],
                    "counts": ref("schemas", "RunCounts"),
                    "staged_files": ["type": "array", "items": ref("schemas", "File"), "description": "Files the run staged"],
                    "remote_files": ["type": "array", "items": ref("schemas", "File"), "description": "Files uploaded over SFTP"],
                ]),
                "RunCounts": objectSchema([
                    "extracted": nullableCount("Rows extracted from the upstream"),
                    "valid": nullableCount("Rows that passed validation"),
                    "invalid": nullableCount("Rows sent to the dead-letter queue"),
                    "loaded": nullableCount("Users written to the database"),
                    "unknown_department": nullableCount("Valid rows whose department is not in the lookup table"),
                ]),
                "File": objectSchema([
                    "name": ["type": "string", "description": "File name, without the staging directory"],
                    "rows": ["type": ["integer", "null"]],
                    "bytes": ["type": ["integer", "null"]],
                    "sha256": ["type": ["string", "null"], "description": "Lower-case hex SHA-256 of the file"],
                ]),
                "User": objectSchema([
                    "id": ["type": "integer"],
                    "run_id": ["type": "string", "description": "The run of the user's latest change"],
                    "full_name": ["type": "string"],
                    "email": ["type": "string"],
                    "email_domain": ["type": "string"],
                    "age": ["type": "integer"],
                    "age_group": ["type": "string"],
                    "department": ["type": "string"],
                    "department_code": ["type": "string", "description": "UNKNOWN when the department is not in the lookup table"],
                    "bmi": ["type": ["number", "null"]],
                    "bmi_category": ["type": ["string", "null"]],
                    "birth_date": ["type": ["string", "null"], "description": "YYYY-MM-DD"],
                    "record_hash": ["type": "string", "description": "SHA-256 of the raw line"],
                    "inserted_at": ["type": "string"],
                    "updated_at": ["type": "string", "description": "Moves only when the user's data changed"],
                    "payload": [
                        "type": "object",
                        "description": "The enriched row as in users.jsonl: secrets masked to their last 4 characters, no password",
                    ],
                ]),
                "DeadLetter": objectSchema([
                    "run_id": ["type": "string"],
                    "line": ["type": "integer", "description": "1-based line in the run's raw.jsonl"],
                    "reasons": ["type": "array", "items": ref("schemas", "Reason")],
                    "payload": ["description": "The masked row, or the line's text as a string when it was not JSON"],
                    "inserted_at": ["type": "string"],
                ]),
                "Reason": objectSchema([
                    "field": ["type": "string", "description": "e.g. email, age, company.department"],
                    "rule": ["type": "string", "description": "e.g. required, email_format, range"],
                    "message": ["type": "string"],
                ]),
                "Event": objectSchema([
                    "id": ["type": "integer"],
                    "run_id": ["type": "string"],
                    "at": ["type": "string", "description": "ISO 8601 UTC"],
                    "stage": ["type": "string", "description": "The phase: extract, transform or save"],
                    "event": ["type": "string", "description": "e.g. started, completed, failed, users written, uploaded"],
                    "detail": ["type": ["string", "null"]],
                ]),
                "Facet": objectSchema([
                    "value": ["type": ["string", "null"], "description": "A value of the column (null for rows without one)"],
                    "count": ["type": "integer", "minimum": 1],
                ]),
                "Health": objectSchema([
                    "status": ["type": "string", "enum": ["ok"]],
                    "database": ["type": "string", "enum": ["ready", "not_ready"]],
                    "detail": ["type": ["string", "null"], "description": "Why the database is not ready"],
                ]),
            ],
        ],
    ]

    /// The document as served, encoded once.
    public static let bytes: [UInt8] = JSONWriter.bytes(json)

    private static func ref(_ section: String, _ name: String) -> JSONValue {
        ["$ref": .string("#/components/\(section)/\(name)")]
    }

    /// A dashboard page: HTML for the page and for its errors (the 421 stays the JSON error).
    private static func htmlOperation(id: String, summary: String, parameters: [JSONValue], errors: [String]) -> JSONValue {
        let responses = [JSONMember("200", htmlResponse("The page"))] + errors.map { JSONMember($0, htmlResponse("An error page saying what went wrong")) }
        return plainOperation(id: id, summary: summary, parameters: parameters, responses: responses)
    }

    private static func htmlResponse(_ description: String) -> JSONValue {
        ["description": .string(description), "content": ["text/html": ["schema": ["type": "string"]]]]
    }

    /// The users page's `sort`: as on `/users`, or empty (a form's blank field) for the default.
    private static func htmlSortParameter(_ columns: [String]) -> JSONValue {
        let column = "-?(" + columns.joined(separator: "|") + ")"
        return [
            "name": "sort", "in": "query", "required": false,
            "description": "As on /users; empty for the default order (by id)",
            "schema": ["type": "string", "pattern": .string("^(\(column)(,\(column))*)?$")],
        ]
    }

    private static func operation(id: String, summary: String, parameters: [JSONValue], ok: JSONValue, errors: [String]) -> JSONValue {
        plainOperation(id: id, summary: summary, parameters: parameters, responses: [JSONMember("200", ok)] + errors.map { JSONMember($0, ref("responses", $0)) })
    }

    private static func plainOperation(
        id: String, summary: String, description: String? = nil, parameters: [JSONValue]? = nil, responses: KeyValuePairs<String, JSONValue>
    ) -> JSONValue {
        plainOperation(id: id, summary: summary, description: description, parameters: parameters, responses: responses.map { JSONMember($0.key, $0.value) })
    }

    /// An operation with its `responses` and the 421 every path answers to a foreign Host.
    private static func plainOperation(
        id: String, summary: String, description: String? = nil, parameters: [JSONValue]? = nil, responses: [JSONMember]
    ) -> JSONValue {
        var members = [JSONMember("operationId", .string(id)), JSONMember("summary", .string(summary))]
        if let description { members.append(JSONMember("description", .string(description))) }
        if let parameters { members.append(JSONMember("parameters", .array(parameters))) }
        members.append(JSONMember("responses", .object(responses + [JSONMember("421", ref("responses", "421"))])))
        return .object(members)
    }

    private static func listResponse(_ description: String, item: String) -> JSONValue {
        [
            "description": .string(description),
            "headers": ["X-Total-Count": ref("headers", "X-Total-Count")],
            "content": [
                "application/json": ["schema": ["type": "array", "items": ref("schemas", item)]],
                "text/csv": ["schema": ["type": "string", "description": "The same page as CSV (format=csv or Accept: text/csv)"]],
            ],
        ]
    }

    /// `sort`: allow-listed columns, `-` for descending, comma-separated; the pattern lets
    /// schemathesis generate valid values as well as invalid ones.
    private static func sortParameter(_ columns: [String], default order: String) -> JSONValue {
        let column = "-?(" + columns.joined(separator: "|") + ")"
        return [
            "name": "sort", "in": "query", "required": false,
            "description": .string("""
                Order by these columns (comma-separated; a leading - sorts descending), then by the primary key ascending. \
                Default: \(order). Allowed: \(columns.joined(separator: ", ")). Any other column is a 400 listing them \
                (`detail.allowed`).
                """),
            "schema": ["type": "string", "pattern": .string("^\(column)(,\(column))*$")],
        ]
    }

    private static func facetColumnParameter(_ columns: [String]) -> JSONValue {
        [
            "name": "column", "in": "path", "required": true,
            "description": .string("The column to count by: one of \(columns.joined(separator: ", ")); any other is a 400 (`detail.allowed`)"),
            "schema": ["type": "string", "enum": .array(columns.map { .string($0) })],
        ]
    }

    private static func facetResponse(_ description: String) -> JSONValue {
        [
            "description": .string(description),
            "headers": ["X-Total-Count": ref("headers", "X-Total-Count")],
            "content": ["application/json": ["schema": ["type": "array", "items": ref("schemas", "Facet")]]],
        ]
    }

    private static func objectResponse(_ description: String, schema: String) -> JSONValue {
        ["description": .string(description), "content": ["application/json": ["schema": ref("schemas", schema)]]]
    }

    private static func errorResponse(_ description: String) -> JSONValue {
        ["description": .string(description), "content": ["application/json": ["schema": ref("schemas", "Error")]]]
    }

    /// An object with exactly these properties, all required (the API writes every key, `null`
    /// included).
    private static func objectSchema(description: String? = nil, _ properties: KeyValuePairs<String, JSONValue>) -> JSONValue {
        var schema = [JSONMember("type", "object")]
        if let description { schema.append(JSONMember("description", .string(description))) }
        schema.append(JSONMember("required", .array(properties.map { .string($0.key) })))
        schema.append(JSONMember("additionalProperties", false))
        schema.append(JSONMember("properties", .object(properties.map { JSONMember($0.key, $0.value) })))
        return .object(schema)
    }

    private static func nullableCount(_ description: String) -> JSONValue {
        ["type": ["integer", "null"], "minimum": 0, "description": .string(description)]
    }
}
