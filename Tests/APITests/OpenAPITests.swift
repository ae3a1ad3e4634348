import APICore
import PipelineJSON
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The document describes exactly the API: every documented path is routed, every routed path
/// documented, and what each endpoint answers matches the documented schema for its status.
/// (scripts/contract-test.sh runs schemathesis against the real binary for the same promise.)
@Suite struct OpenAPITests {
    @Test func theDocumentIsServedAndListsExactlyTheRoutes() async throws {
        try await SampleFixture.serving(runCount: 1) { _, client in
            let response = try await client.execute(uri: "/openapi.json", method: .get)
            #expect(response.status == .ok)
            #expect(response.contentType?.hasPrefix("application/json") == true)
            #expect(Array(response.body.readableBytesView) == OpenAPIDocument.bytes)
            let document = try JSONValue.parse(String(buffer: response.body))
            #expect(document["openapi"] == "3.1.0")
            let paths = try #require(document["paths"]?.objectValue)
            #expect(Set(paths.map(\.key)) == Set(APIPaths.templates))
            for path in paths {
                #expect(path.value.objectValue?.map(\.key) == ["get"], "\(path.key) documents GET only")
                let responses = try #require(path.value["get"]?["responses"]?.objectValue)
                #expect(responses.contains { $0.key == "200" })
            }
            // Every $ref resolves.
            for reference in references(in: document) {
                #expect(resolve(reference, in: document) != nil, "\(reference) resolves")
            }
        }
    }

    @Test func everyAnswerMatchesItsDocumentedSchema() async throws {
        let fixture = try await SampleFixture()
        let run = fixture.runs[0].runID.rawValue
        let failed = fixture.runs[3].runID.rawValue
        let requests: [(uri: String, template: String)] = [
            ("/etl_runs", "/etl_runs"), ("/etl_runs?status=failed", "/etl_runs"), ("/etl_runs?limit=abc", "/etl_runs"),
            ("/etl_runs/\(run)", "/etl_runs/{run_id}"), ("/etl_runs/\(failed)", "/etl_runs/{run_id}"), ("/etl_runs/none", "/etl_runs/{run_id}"),
            ("/etl_runs/\(run)/dlq", "/etl_runs/{run_id}/dlq"), ("/etl_runs/\(run)/dlq?offset=-1", "/etl_runs/{run_id}/dlq"),
            ("/etl_runs/none/dlq", "/etl_runs/{run_id}/dlq"), ("/etl_runs/\(run)/events", "/etl_runs/{run_id}/events"),
            ("/etl_runs/none/events", "/etl_runs/{run_id}/events"), ("/users", "/users"), ("/users?department=", "/users"),
            ("/users/5", "/users/{id}"), ("/users/500", "/users/{id}"), ("/users/x", "/users/{id}"), ("/health", "/health"),
            ("/openapi.json", "/openapi.json"),
        ]
        let document = OpenAPIDocument.json
        try await fixture.app().test(.router) { client in
            for request in requests {
                let response = try await client.execute(uri: request.uri, method: .get)
                let status = String(response.status.code)
                let operation = try #require(document["paths"]?[request.template]?["get"])
                let documented = try #require(operation["responses"]?[status], "\(request.uri) answered \(status), which is documented")
                let resolved = try #require(resolve(documented, in: document))
                let schema = try #require(resolved["content"]?["application/json"]?["schema"])
                let body = try JSONValue.parse(String(buffer: response.body))
                let problems = SchemaCheck(document: document).problems(body, schema, at: "$")
                #expect(problems.isEmpty, "\(request.uri): \(problems)")
                if resolved["headers"]?["X-Total-Count"] != nil {
                    #expect(response.totalCount != nil, "\(request.uri) sends X-Total-Count")
                }
            }
            // The 503 every data endpoint documents.
            let empty = LazyReader(path: fixture.directory.file("missing.db"))
            let app = Application(router: APIServer.router(database: empty, logger: LogCapture().logger))
            try await app.test(.router) { other in
                let response = try await other.execute(uri: "/users", method: .get)
                #expect(response.status == .serviceUnavailable)
                let schema = try #require(resolve(document["paths"]?["/users"]?["get"]?["responses"]?["503"], in: document)?["content"]?["application/json"]?["schema"])
                #expect(SchemaCheck(document: document).problems(try JSONValue.parse(String(buffer: response.body)), schema, at: "$").isEmpty)
            }
        }
    }

    private func references(in value: JSONValue) -> [JSONValue] {
        switch value {
        case .object(let members):
            return (members.contains { $0.key == "$ref" } ? [value] : []) + members.flatMap { references(in: $0.value) }
        case .array(let items): return items.flatMap(references(in:))
        default: return []
        }
    }
}

/// Follows `{"$ref": "#/a/b"}` (repeatedly) to what it names.
func resolve(_ value: JSONValue?, in document: JSONValue) -> JSONValue? {
    guard var value else { return nil }
    var hops = 0
    while let reference = value["$ref"]?.stringValue, reference.hasPrefix("#/"), hops < 10 {
        var target: JSONValue? = document
        for part in reference.dropFirst(2).split(separator: "/") { target = target?[String(part)] }
        guard let found = target else { return nil }
        value = found
        hops += 1
    }
    return value
}

/// The parts of JSON Schema the document uses: $ref, type (one or a list), enum, required,
/// properties, additionalProperties: false, items, minimum, maximum, minLength.
struct SchemaCheck {
    let document: JSONValue

    func problems(_ value: JSONValue, _ rawSchema: JSONValue, at path: String) -> [String] {
        guard let schema = resolve(rawSchema, in: document) else { return ["\(path): unresolvable schema"] }
        var problems: [String] = []
        if let type = schema["type"] {
            let allowed = type.arrayValue?.compactMap(\.stringValue) ?? [type.stringValue ?? ""]
            if !allowed.contains(where: { matches(value, $0) }) {
                return ["\(path): \(JSONWriter.string(value).prefix(80)) is not \(allowed)"]
            }
        }
        if let options = schema["enum"]?.arrayValue, !options.contains(value) {
            problems.append("\(path): \(JSONWriter.string(value)) not in enum")
        }
        if case .number(let text) = value, let number = Double(text) {
            if let minimum = schema["minimum"].flatMap(\.intValue), number < Double(minimum) { problems.append("\(path): below minimum") }
            if let maximum = schema["maximum"].flatMap(\.intValue), number > Double(maximum) { problems.append("\(path): above maximum") }
        }
        if case .string(let text) = value, let minimum = schema["minLength"]?.intValue, text.count < minimum {
            problems.append("\(path): shorter than \(minimum)")
        }
        if case .object(let members) = value {
            let properties = schema["properties"]?.objectValue ?? []
            for name in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where !members.contains(where: { $0.key == name }) {
                problems.append("\(path): missing \(name)")
            }
            for member in members {
                if let property = properties.first(where: { $0.key == member.key }) {
                    problems += self.problems(member.value, property.value, at: "\(path).\(member.key)")
                } else if schema["additionalProperties"] == .bool(false) {
                    problems.append("\(path): undocumented member \(member.key)")
                }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() { problems += self.problems(item, itemSchema, at: "\(path)[\(index)]") }
        }
        return problems
    }

    private func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (value, type) {
        case (.null, "null"), (.bool, "boolean"), (.string, "string"), (.array, "array"), (.object, "object"), (.number, "number"): true
        case (.number(let text), "integer"): Int(text) != nil
        default: false
        }
    }
}
