import Crypto
import Foundation
import Logging
import PipelineCore
import PipelineJSON
import Testing
import TestSupport
import TransformerCore
import TransformerFixtures

/// Runs the file transform on given lines in a temporary directory and reads the outputs back.
struct TransformRun {
    let directory = TemporaryDirectory("transform-test")
    var paths: TransformPaths {
        TransformPaths(raw: directory.file("raw.jsonl"), users: directory.file("users.jsonl"),
                       dlq: directory.file("dlq.jsonl"), rawMasked: directory.file("raw.masked.jsonl"))
    }
    static let lineDigestKey = SymmetricKey(data: [UInt8](repeating: 0x5A, count: 32))
    static let context = TransformContext(runID: "20261122T101500Z-3f9a", extractedAt: "2026-11-22T10:15:07.250Z",
                                          transformedAt: "2026-11-22T10:15:08.000Z", lineDigestKey: lineDigestKey)

    /// What raw.masked.jsonl and the DLQ hold for a line that is not a JSON object.
    static func placeholder(for line: [UInt8]) -> String {
        let digest = HMAC<SHA256>.authenticationCode(for: line, using: lineDigestKey).map { String(format: "%02x", $0) }.joined()
        return #"{"rejected_line":{"bytes":\#(line.count),"hmac_sha256":"\#(digest)"}}"#
    }
    static let rules = TransformRules(ageRange: 18...65, departments: try! DepartmentTable.bundled())

    /// Writes `lines` (each followed by a newline) as raw.jsonl and transforms them; `repeats`
    /// are the lines the extractor found repeating an earlier line's id.
    @discardableResult
    func run(_ lines: [String], rules: TransformRules = TransformRun.rules, workers: Int = 1, batchBytes: Int = 512 << 10,
             firstLine: Int = 1, repeats: [RepeatedID] = []) throws -> TransformSummary {
        try runBytes(lines.map { Array($0.utf8) }, rules: rules, workers: workers, batchBytes: batchBytes, firstLine: firstLine, repeats: repeats)
    }

    @discardableResult
    func runBytes(_ lines: [[UInt8]], rules: TransformRules = TransformRun.rules, workers: Int = 1, batchBytes: Int = 512 << 10,
                  firstLine: Int = 1, repeats: [RepeatedID] = []) throws -> TransformSummary {
        try Data(lines.flatMap { $0 + [0x0A] }).write(to: URL(fileURLWithPath: paths.raw))
        return try transform(rules: rules, workers: workers, batchBytes: batchBytes, firstLine: firstLine, repeats: repeats)
    }

    func transform(rules: TransformRules = TransformRun.rules, workers: Int = 1, batchBytes: Int = 512 << 10,
                   firstLine: Int = 1, repeats: [RepeatedID] = []) throws -> TransformSummary {
        try FileTransform(paths: paths, rules: rules, context: Self.context, workers: workers, batchBytes: batchBytes,
                          firstLine: firstLine, repeats: repeats, logger: quietLogger).run()
    }

    func lines(_ path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard text.hasSuffix("\n") || text.isEmpty else {
            Issue.record("\(path) does not end with a newline")
            return []
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func objects(_ path: String) throws -> [[String: Any]] {
        try lines(path).map { line in
            let value = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
            guard let object = value as? [String: Any] else { throw TestFailure("not an object: \(line)") }
            return object
        }
    }

    var users: [[String: Any]] { get throws { try objects(paths.users) } }
    var dlq: [[String: Any]] { get throws { try objects(paths.dlq) } }
    var masked: [String] { get throws { try lines(paths.rawMasked) } }
}

/// A logger that drops everything, so the test output shows only the tests.
let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Dictionary where Key == String, Value == Any {
    /// `field.rule` of each reason of a DLQ row, in order.
    var rules: [String] {
        ((self["reasons"] as? [[String: Any]]) ?? []).map { "\($0["field"] ?? "?").\($0["rule"] ?? "?")" }
    }
}

extension JSONValue {
    /// The string at a dotted path.
    func string(_ path: String) -> String? {
        if case .string(let s)? = self[path: path] { return s }
        return nil
    }
}

/// Finds which of many strings occur in a byte buffer, in one pass (needles of 4 bytes or more):
/// each window of the buffer's first four bytes is looked up among the needles' first four.
struct SubstringScanner {
    private var byPrefix: [UInt32: [[UInt8]]] = [:]

    init(_ needles: [String]) {
        for needle in Set(needles) {
            let bytes = Array(needle.utf8)
            precondition(bytes.count >= 4, "needles must have at least 4 bytes")
            byPrefix[Self.prefix(bytes, 0), default: []].append(bytes)
        }
    }

    static func prefix(_ bytes: [UInt8], _ i: Int) -> UInt32 {
        UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
    }

    /// The needles found in `haystack`.
    func occurring(in haystack: [UInt8]) -> [String] {
        var found: Set<[UInt8]> = []
        guard haystack.count >= 4 else { return [] }
        for i in 0...(haystack.count - 4) {
            guard let candidates = byPrefix[Self.prefix(haystack, i)] else { continue }
            for needle in candidates where i + needle.count <= haystack.count && haystack[i ..< i + needle.count].elementsEqual(needle) {
                found.insert(needle)
            }
        }
        return found.map { String(decoding: $0, as: UTF8.self) }.sorted()
    }
}
