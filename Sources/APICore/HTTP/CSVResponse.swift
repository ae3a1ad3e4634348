import Foundation
import HTTPTypes
import Hummingbird
import PipelineJSON

/// How a list endpoint answers: JSON (the default) or CSV.
public enum ResponseFormat: String, Sendable, CaseIterable {
    case json, csv

    /// `format=json|csv` decides when given (anything else is a 400); otherwise CSV when the
    /// `Accept` header names `text/csv` explicitly (q > 0) with a q at least that of an explicit
    /// `application/json`. Wildcards (`*/*`, `text/*`) keep JSON, so browsers and HTTP clients
    /// that accept anything get what they got before.
    static func negotiate(query: QueryParameters, accept: String?) throws(APIError) -> ResponseFormat {
        if let text = query.first("format") {
            guard let format = ResponseFormat(rawValue: text) else {
                throw APIError.badParameter("format", in: "query", value: text, expected: "one of json, csv")
            }
            return format
        }
        guard let accept else { return .json }
        var csv: Double?
        var json: Double?
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first else { continue }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            switch type {
            case "text/csv": csv = max(csv ?? 0, quality)
            case "application/json": json = max(json ?? 0, quality)
            default: continue
            }
        }
        guard let csv, csv > 0 else { return .json }
        return csv >= (json ?? 0) ? .csv : .json
    }
}

/// `text/csv` answers (RFC 4180): a header row with the resource's keys in their JSON order, then one
/// row per item; every line ends in CRLF.
///
/// A cell holds a string as it is, a number as its JSON text, `true`/`false`, nothing for `null`,
/// and an object or array (counts, files, reasons, payload) as compact JSON written by the API's one
/// JSON writer. A cell with a comma, a double quote, CR or LF is quoted, its quotes doubled.
///
/// The body is streamed: written in chunks of ``rowsPerChunk`` rows as the client reads, without a
/// `Content-Length` (chunked transfer encoding), so a page never sits in memory twice.
public enum CSVResponse {
    static let contentType = "text/csv; charset=utf-8; header=present"
    static let rowsPerChunk = 64

    public static func make(columns: [String], rows: [JSONValue], headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.contentType: contentType]
        headers.append(contentsOf: extra)
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var chunk: [UInt8] = []
                appendRow(columns.map(JSONValue.string), into: &chunk)
                var start = 0
                repeat {
                    let end = min(start + rowsPerChunk, rows.count)
                    for row in rows[start..<end] { appendRow(columns.map { row[$0] ?? .null }, into: &chunk) }
                    try await writer.write(ByteBuffer(bytes: chunk))
                    chunk.removeAll(keepingCapacity: true)
                    start = end
                } while start < rows.count
                try await writer.finish(nil)
            })
    }

    /// The whole text at once, for tests and small answers.
    public static func text(columns: [String], rows: [JSONValue]) -> String {
        var out: [UInt8] = []
        appendRow(columns.map(JSONValue.string), into: &out)
        for row in rows { appendRow(columns.map { row[$0] ?? .null }, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    static func appendRow(_ cells: [JSONValue], into out: inout [UInt8]) {
        for (index, cell) in cells.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            appendCell(cell, into: &out)
        }
        out.append(contentsOf: [0x0D, 0x0A])
    }

    private static func appendCell(_ cell: JSONValue, into out: inout [UInt8]) {
        switch cell {
        case .null: break
        case .bool(let flag): out.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .string(let text): appendField(Array(text.utf8), into: &out)
        case .array, .object: appendField(JSONWriter.bytes(cell), into: &out)
        case .fragment(let fragment):
            // An object or array is its text; a string, number, true/false or null (a DLQ
            // payload that was not JSON is a string) is written as that value is.
            if let first = fragment.bytes.first, first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
                appendField(fragment.bytes, into: &out)
            } else {
                appendCell(fragment.value, into: &out)
            }
        }
    }

    private static func appendField(_ bytes: [UInt8], into out: inout [UInt8]) {
        let needsQuotes = bytes.contains { byte in
            switch byte {
            case UInt8(ascii: ","), UInt8(ascii: "\""), 0x0D, 0x0A: true
            default: false
            }
        }
        guard needsQuotes else {
            out.append(contentsOf: bytes)
            return
        }
        out.append(UInt8(ascii: "\""))
        for byte in bytes {
            if byte == UInt8(ascii: "\"") { out.append(byte) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
    }
}
