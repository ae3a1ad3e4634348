import APICore
import APITestData
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PipelineCore
import PipelineJSON
import Testing

/// `?format=csv` and `Accept: text/csv` on the three lists: the CSV, read back by an RFC 4180
/// reader written here, holds exactly the JSON answer to the same query.
@Suite struct CSVEndpointTests {
    /// A failed run whose error holds every character CSV must quote.
    static let awkwardError = "upload failed, \"twice\":\nline two\r\nline three, end"

    static func fixture() async throws -> SampleFixture {
        let fixture = try await SampleFixture(write: false)
        var runs = fixture.runs
        runs[3].error = awkwardError
        try await SampleDatabase.write(runs, to: fixture.databasePath)
        return fixture
    }

    @Test func everyListAsCSVEqualsItsJSON() async throws {
        let fixture = try await Self.fixture()
        let run = fixture.runs[0].runID.rawValue
        let queries = [
            "/etl_runs", "/etl_runs?status=failed&limit=3", "/etl_runs?limit=4&offset=2", "/etl_runs/\(run)/dlq",
            "/etl_runs/\(run)/dlq?limit=2&offset=1", "/users", "/users?department=Engineering", "/users?limit=7&offset=5&run_id=\(run)",
        ]
        try await fixture.app().test(.router) { client in
            for query in queries {
                let json = try await client.execute(uri: query, method: .get)
                #expect(json.status == .ok)
                let separator = query.contains("?") ? "&" : "?"
                let byParameter = try await client.execute(uri: query + separator + "format=csv", method: .get)
                let byAccept = try await client.execute(uri: query, method: .get, headers: [.accept: "text/csv"])
                for csv in [byParameter, byAccept] {
                    #expect(csv.status == .ok)
                    #expect(csv.contentType == "text/csv; charset=utf-8; header=present")
                    #expect(csv.totalCount == json.totalCount, "\(query): X-Total-Count as in JSON")
                    #expect(csv.headers[.contentLength] == nil, "\(query): streamed, no Content-Length")
                    try expectSame(csv: String(buffer: csv.body), json: String(buffer: json.body), query)
                }
            }
        }
    }

    @Test func quotesCommasQuotesAndNewlines() async throws {
        let fixture = try await Self.fixture()
        try await fixture.app().test(.router) { client in
            let response = try await client.execute(uri: "/etl_runs?status=failed&format=csv", method: .get)
            let text = String(buffer: response.body)
            let rows = try CSVReader.read(text)
            let error = try #require(rows.first?.firstIndex(of: "error"))
            #expect(rows.dropFirst().contains { $0[error] == Self.awkwardError }, "the error survives quoting")
            let quoted = "\"upload failed, \"\"twice\"\":\nline two\r\nline three, end\""
            #expect(text.contains(quoted), "quoted, quotes doubled")
            let outside = text.replacingOccurrences(of: quoted, with: "")
            #expect(outside.hasSuffix("\r\n") && !outside.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "records end in CRLF")
        }
        let text = CSVResponse.text(
            columns: ["a", "b", "c", "d", "e"],
            rows: [
                ["a": "plain", "b": "comma, inside", "c": "quote \" inside", "d": "cr\ronly", "e": " spaces kept "],
                ["a": "", "b": nil, "c": ["k": "v,\"w\""], "d": [1, "two"], "e": true],
                ["a": "ünïcödé ✓", "b": .number("-1.5e3"), "c": .number("42"), "d": "lf\n", "e": false],
            ])
        #expect(try CSVReader.read(text) == [
            ["a", "b", "c", "d", "e"],
            ["plain", "comma, inside", "quote \" inside", "cr\ronly", " spaces kept "],
            ["", "", #"{"k":"v,\"w\""}"#, #"[1,"two"]"#, "true"],
            ["ünïcödé ✓", "-1.5e3", "42", "lf\n", "false"],
        ])
    }

    @Test func anEmptyPageIsTheHeaderRow() async throws {
        let fixture = try await Self.fixture()
        try await fixture.app().test(.router) { client in
            let users = try await client.execute(uri: "/users?department=Nobody&format=csv", method: .get)
            #expect(String(buffer: users.body) == UserResource.keys.joined(separator: ",") + "\r\n")
            #expect(users.totalCount == 0)
            let runs = try await client.execute(uri: "/etl_runs?offset=1000", method: .get, headers: [.accept: "text/csv"])
            #expect(try CSVReader.read(String(buffer: runs.body)) == [RunResource.keys])
        }
    }

    @Test func acceptNegotiationAndTheFormatParameter() async throws {
        try await SampleFixture.serving(runCount: 2) { _, client in
            let cases: [(accept: String?, query: String, csv: Bool)] = [
                (nil, "", false), ("*/*", "", false), ("text/*", "", false), ("application/json", "", false),
                ("text/csv", "", true), ("text/csv;q=0.9, application/json", "", false), ("application/json;q=0.5, text/csv", "", true),
                ("text/csv, application/json", "", true), ("text/csv;q=0", "", false), ("text/html, */*;q=0.8", "", false),
                ("text/csv", "format=json", false), ("application/json", "format=csv", true), (nil, "format=csv", true),
            ]
            for item in cases {
                let headers: HTTPFields = item.accept.map { [.accept: $0] } ?? [:]
                let response = try await client.execute(uri: "/etl_runs?" + item.query, method: .get, headers: headers)
                #expect(response.status == .ok)
                #expect(response.contentType?.hasPrefix(item.csv ? "text/csv" : "application/json") == true, "Accept \(item.accept ?? "-") \(item.query)")
            }
            for uri in ["/etl_runs?format=xml", "/users?format=CSV", "/etl_runs/x/dlq?format="] {
                let detail = try expectError(try await client.execute(uri: uri, method: .get, headers: [.accept: "text/csv"]), .badRequest)
                #expect(detail?.string("parameter") == "format")
            }
        }
    }

    @Test func headersAreTheJSONKeysInOrder() async throws {
        try await SampleFixture.serving(runCount: 1) { fixture, client in
            for (uri, keys) in [("/etl_runs", RunResource.keys), ("/users", UserResource.keys), ("/etl_runs/\(fixture.runs[0].runID)/dlq", DLQResource.keys)] {
                let first = try #require(try JSONValue.parse(String(buffer: try await client.execute(uri: uri, method: .get).body)).arrayValue?.first)
                #expect(first.objectValue?.map(\.key) == keys, "\(uri)")
            }
        }
    }

    /// The CSV's header is the JSON objects' keys in order; each cell is its value: a string as
    /// is, a number as its text, null empty, an object or array as JSON that parses to the value.
    private func expectSame(csv: String, json: String, _ query: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rows = try CSVReader.read(csv)
        let items = try #require(try JSONValue.parse(json).arrayValue)
        let header = try #require(rows.first)
        #expect(rows.count == items.count + 1, "\(query): \(rows.count - 1) rows vs \(items.count)", sourceLocation: sourceLocation)
        for (item, row) in zip(items, rows.dropFirst()) {
            let members = try #require(item.objectValue)
            #expect(members.map(\.key) == header, "\(query): header", sourceLocation: sourceLocation)
            #expect(row.count == header.count, sourceLocation: sourceLocation)
            for (member, cell) in zip(members, row) {
                switch member.value {
                case .null: #expect(cell == "", "\(query) \(member.key)", sourceLocation: sourceLocation)
                case .string(let text): #expect(cell == text, "\(query) \(member.key)", sourceLocation: sourceLocation)
                case .number(let text): #expect(cell == text, "\(query) \(member.key)", sourceLocation: sourceLocation)
                case .bool(let flag): #expect(cell == String(flag), "\(query) \(member.key)", sourceLocation: sourceLocation)
                case .array, .object, .fragment:
                    #expect(try JSONValue.parse(cell) == member.value, "\(query) \(member.key)", sourceLocation: sourceLocation)
                }
            }
        }
    }
}

/// A strict RFC 4180 reader: fields separated by commas, records by CRLF; a quoted field may hold
/// commas, CR, LF and doubled quotes; anything else is an error. The last record ends in CRLF.
enum CSVReader {
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static func read(_ text: String) throws -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        var quoted = false
        var fieldStarted = false
        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field = []
            fieldStarted = false
        }
        while index < bytes.count {
            let byte = bytes[index]
            if quoted {
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 2
                        continue
                    }
                    quoted = false
                    index += 1
                    guard index == bytes.count || bytes[index] == UInt8(ascii: ",") || bytes[index] == 0x0D else {
                        throw Malformed(description: "text after a closing quote at byte \(index)")
                    }
                    continue
                }
                field.append(byte)
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                guard !fieldStarted, field.isEmpty else { throw Malformed(description: "a quote inside an unquoted field at byte \(index)") }
                quoted = true
                fieldStarted = true
            case UInt8(ascii: ","):
                endField()
            case 0x0D:
                guard index + 1 < bytes.count, bytes[index + 1] == 0x0A else { throw Malformed(description: "a CR without LF at byte \(index)") }
                endField()
                records.append(record)
                record = []
                index += 1
            case 0x0A:
                throw Malformed(description: "a bare LF outside quotes at byte \(index)")
            default:
                field.append(byte)
                fieldStarted = true
            }
            index += 1
        }
        guard !quoted else { throw Malformed(description: "an unterminated quoted field") }
        guard record.isEmpty, field.isEmpty else { throw Malformed(description: "the last record does not end in CRLF") }
        return records
    }
}
