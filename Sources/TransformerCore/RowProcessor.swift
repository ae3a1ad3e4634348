import Crypto
import Foundation
import PipelineCore
import PipelineJSON

/// One reason a row was rejected, as `dlq.jsonl` lists it.
public struct RowFailure: Sendable, Equatable, CustomStringConvertible {
    /// `row`, `id`, `firstName`, `lastName`, `email`, `age` or `company.department`.
    public var field: String
    /// `not_object`, `positive_integer`, `duplicate`, `required`, `email_format`, `integer` or `range`.
    public var rule: String
    public var message: String

    public init(field: String, rule: String, message: String) {
        self.field = field
        self.rule = rule
        self.message = message
    }

    /// The key of this rule's count in the ledger (`rule:email.email_format`).
    public var countKey: String { "rule:\(field).\(rule)" }
    public var description: String { "\(field).\(rule): \(message)" }
}

/// The facts about a run that every output row repeats.
public struct TransformContext: Sendable, Equatable {
    public var runID: String
    /// The ledger's `extract_finished_at`, as stored (`nil` writes `null`).
    public var extractedAt: String?
    /// The ledger's `transform_started_at`, as stored: the same on every attempt.
    public var transformedAt: String
    /// The run's key for the digest of a line that is not a JSON object (ledger
    /// `line_digest_key`): keyed, so the digest of a short line (an SSN alone, say) cannot be
    /// confirmed by hashing guesses.
    public var lineDigestKey: SymmetricKey

    public init(runID: String, extractedAt: String?, transformedAt: String, lineDigestKey: SymmetricKey) {
        self.runID = runID
        self.extractedAt = extractedAt
        self.transformedAt = transformedAt
        self.lineDigestKey = lineDigestKey
    }
}

/// What processing one row produced, pointing into its batch's buffers.
struct RowResult {
    var line: Int
    /// The row for `raw.masked.jsonl`, in ``RowBuffers/masked``.
    var masked: Range<Int>
    /// The finished `users.jsonl` line in ``RowBuffers/users``; empty when the row failed a rule.
    var user: Range<Int>
    var failures: [RowFailure]
    /// The department of a valid row that the table lacks (trimmed).
    var unknownDepartment: String?
    /// SHA-256 of the masked row: what is stored, so it reveals nothing the stored row does not.
    var hash: SHA256.Digest
}

/// The output buffers of one batch of rows.
struct RowBuffers {
    var masked: [UInt8] = []
    var users: [UInt8] = []
    var results: [RowResult] = []

    mutating func removeAll() {
        masked.removeAll(keepingCapacity: true)
        users.removeAll(keepingCapacity: true)
        results.removeAll(keepingCapacity: true)
    }
}

/// Validates, masks and enriches rows (docs/STAGING.md). Holds a reusable parse
/// tape, so each thread needs its own; everything it writes depends only on the row, the rules
/// and the context, which is what lets batches be processed in parallel. The one rule that
/// spans rows (a repeated `id`) is applied afterwards, in line order, by the caller.
struct RowProcessor {
    let rules: TransformRules
    let context: TransformContext
    private var tape = JSONTape()
    private var keyCache = SecretKeyCache()
    /// `,"run_id":"…","extracted_at":…,"transformed_at":"…","record_hash":"`
    private let userTail: [UInt8]

    init(rules: TransformRules, context: TransformContext) {
        self.rules = rules
        self.context = context
        var tail: [UInt8] = []
        tail.append(",\"run_id\":")
        tail.appendJSONString(context.runID)
        tail.append(",\"extracted_at\":")
        if let extractedAt = context.extractedAt { tail.appendJSONString(extractedAt) } else { tail.append("null") }
        tail.append(",\"transformed_at\":")
        tail.appendJSONString(context.transformedAt)
        tail.append(",\"record_hash\":\"")
        self.userTail = tail
    }

    /// The top-level members a rule or a mask looks at (tape indices of their values; -1 when absent).
    private struct Fields {
        var id = -1, firstName = -1, lastName = -1, email = -1, age = -1, birthDate = -1
        var height = -1, weight = -1, company = -1
    }

    private enum TopKey {
        case other, id, firstName, lastName, email, age, birthDate, height, weight, company
    }

    /// Every line that leaves staging is written here, from a parsed JSON object through
    /// ``SecretMasking``; a line that is not a JSON object leaves only a placeholder.
    mutating func process(line number: Int, _ bytes: UnsafeRawBufferPointer, into out: inout RowBuffers) {
        let maskedStart = out.masked.count
        var rejection: RowFailure?
        do {
            try tape.parse(bytes)
            if tape.root.kind != .object {
                rejection = RowFailure(field: "row", rule: "not_object",
                                       message: "the line is a JSON \(Self.kindName(tape.root.kind)), not an object")
            }
        } catch {
            rejection = RowFailure(field: "row", rule: "not_object", message: "the line is not valid JSON: \(error)")
        }
        if let rejection {
            appendRejectedLine(bytes, into: &out.masked)
            let masked = maskedStart..<out.masked.count
            out.results.append(RowResult(
                line: number, masked: masked, user: 0..<0, failures: [rejection],
                unknownDepartment: nil, hash: Self.hash(out.masked, masked)))
            return
        }
        let fields = writeMasked(bytes, into: &out.masked)
        let masked = maskedStart..<out.masked.count
        let hash = Self.hash(out.masked, masked)

        var failures: [RowFailure] = []
        checkID(fields.id, bytes, &failures)
        checkRequired(fields.firstName, "firstName", bytes, &failures)
        checkRequired(fields.lastName, "lastName", bytes, &failures)
        let email = checkEmail(fields.email, bytes, &failures)
        let age = checkAge(fields.age, bytes, &failures)
        let department = checkDepartment(fields.company, bytes, &failures)

        guard failures.isEmpty, let email, let age, let department else {
            out.results.append(RowResult(line: number, masked: masked, user: 0..<0,
                                         failures: failures, unknownDepartment: nil, hash: hash))
            return
        }
        let userStart = out.users.count
        // The masked row without its closing brace, then the enrichment keys.
        out.users.append(contentsOf: out.masked[masked.lowerBound ..< masked.upperBound - 1])
        let unknown = writeEnrichment(line: number, fields: fields, email: email, age: age, department: department,
                                      hash: hash, bytes, into: &out.users)
        out.results.append(RowResult(line: number, masked: masked, user: userStart..<out.users.count,
                                     failures: [], unknownDepartment: unknown, hash: hash))
    }

    // MARK: Masking

    /// Writes the object compactly through ``SecretMasking`` (secrets at any depth dropped or
    /// masked), and notes where the fields the rules need are.
    private mutating func writeMasked(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) -> Fields {
        let fields = topFields(bytes)
        rules.masking.append(tape, 0, in: bytes, to: &out, cache: &keyCache)
        return fields
    }

    /// Where the top-level fields the rules need are (the last of a repeated key wins, as in most
    /// parsers). Not `mutating`: a closure over a mutating `self` would copy the processor.
    private func topFields(_ bytes: UnsafeRawBufferPointer) -> Fields {
        var fields = Fields()
        tape.forEachMember(of: 0) { key, value in
            switch topKey(key, bytes) {
            case .id: fields.id = value
            case .firstName: fields.firstName = value
            case .lastName: fields.lastName = value
            case .email: fields.email = value
            case .age: fields.age = value
            case .birthDate: fields.birthDate = value
            case .height: fields.height = value
            case .weight: fields.weight = value
            case .company: fields.company = value
            case .other: break
            }
        }
        return fields
    }

    /// The placeholder for a line that is not a JSON object: its length and a keyed digest, none
    /// of its bytes (docs/STAGING.md, "Lines that are not JSON objects").
    private func appendRejectedLine(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.append("{\"rejected_line\":{\"bytes\":")
        out.appendInt(bytes.count)
        out.append(",\"hmac_sha256\":\"")
        Self.appendHex(HMAC<SHA256>.authenticationCode(for: bytes, using: context.lineDigestKey), &out)
        out.append("\"}}")
    }

    private static func hash(_ buffer: [UInt8], _ range: Range<Int>) -> SHA256.Digest {
        buffer.withUnsafeBytes { SHA256.hash(data: UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    private func topKey(_ key: Int, _ bytes: UnsafeRawBufferPointer) -> TopKey {
        if tape.nodes[key].flag { return Self.topKey(named: tape.decodedString(key, in: bytes)) }
        let raw = tape.content(key, in: bytes)
        @inline(__always) func eq(_ name: StaticString) -> Bool {
            memcmp(raw.baseAddress!, name.utf8Start, name.utf8CodeUnitCount) == 0
        }
        switch raw.count {
        case 2: return eq("id") ? .id : .other
        case 3: return eq("age") ? .age : .other
        case 5: return eq("email") ? .email : .other
        case 6: return eq("height") ? .height : eq("weight") ? .weight : .other
        case 7: return eq("company") ? .company : .other
        case 8: return eq("lastName") ? .lastName : .other
        case 9: return eq("firstName") ? .firstName : eq("birthDate") ? .birthDate : .other
        default: return .other
        }
    }

    private static func topKey(named name: String) -> TopKey {
        switch name {
        case "id": .id
        case "firstName": .firstName
        case "lastName": .lastName
        case "email": .email
        case "age": .age
        case "birthDate": .birthDate
        case "height": .height
        case "weight": .weight
        case "company": .company
        default: .other
        }
    }

    // MARK: Rules

    private func checkID(_ value: Int, _ bytes: UnsafeRawBufferPointer, _ failures: inout [RowFailure]) {
        guard value >= 0 else {
            failures.append(RowFailure(field: "id", rule: "positive_integer", message: "id is missing"))
            return
        }
        if let id = tape.intValue(value, in: bytes), id > 0 { return }
        failures.append(RowFailure(field: "id", rule: "positive_integer", message: "id must be a positive integer, got \(preview(value, bytes))"))
    }

    /// Whether `value` (-1 when absent) is a string that is not blank; a `required` failure of
    /// `field` when not.
    @discardableResult
    private func checkRequired(_ value: Int, _ field: String, _ bytes: UnsafeRawBufferPointer, _ failures: inout [RowFailure]) -> Bool {
        let message: String
        if value < 0 {
            message = "\(field) is missing"
        } else if tape.nodes[value].kind != .string {
            message = "\(field) must be a string, got \(preview(value, bytes))"
        } else if isBlank(value, bytes) {
            message = "\(field) is empty"
        } else {
            return true
        }
        failures.append(RowFailure(field: field, rule: "required", message: message))
        return false
    }

    /// The address as UTF-8 when it passes.
    private func checkEmail(_ value: Int, _ bytes: UnsafeRawBufferPointer, _ failures: inout [RowFailure]) -> [UInt8]? {
        guard checkRequired(value, "email", bytes, &failures) else { return nil }
        let address = tape.decodedBytes(value, in: bytes)
        guard address.withUnsafeBytes({ FieldRules.isValidEmail($0) }) else {
            failures.append(RowFailure(field: "email", rule: "email_format", message: "email \(preview(value, bytes)) is not a valid address"))
            return nil
        }
        return address
    }

    private func checkAge(_ value: Int, _ bytes: UnsafeRawBufferPointer, _ failures: inout [RowFailure]) -> Int? {
        guard value >= 0 else {
            failures.append(RowFailure(field: "age", rule: "integer", message: "age is missing"))
            return nil
        }
        guard let age = tape.intValue(value, in: bytes) else {
            failures.append(RowFailure(field: "age", rule: "integer", message: "age must be an integer, got \(preview(value, bytes))"))
            return nil
        }
        guard rules.ageRange.contains(age) else {
            failures.append(RowFailure(field: "age", rule: "range",
                                       message: "age \(age) is outside \(rules.ageRange.lowerBound)...\(rules.ageRange.upperBound)"))
            return nil
        }
        return age
    }

    /// The tape index of a usable `company.department`.
    private func checkDepartment(_ company: Int, _ bytes: UnsafeRawBufferPointer, _ failures: inout [RowFailure]) -> Int? {
        let value = company >= 0 && tape.nodes[company].kind == .object ? tape.member("department", of: company, in: bytes) ?? -1 : -1
        return checkRequired(value, "company.department", bytes, &failures) ? value : nil
    }

    /// Whether a string node is empty or only whitespace.
    private func isBlank(_ value: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let raw = tape.content(value, in: bytes)
        if raw.isEmpty { return true }
        if !tape.nodes[value].flag, raw[0] != 0x20, raw[0] < 0x80 { return false }
        return tape.decodedString(value, in: bytes).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
    }

    /// A short description of a value for a message: its JSON text (cut at 60 bytes) or its kind.
    private func preview(_ value: Int, _ bytes: UnsafeRawBufferPointer) -> String {
        let node = tape.nodes[value]
        switch node.kind {
        case .object: return "an object"
        case .array: return "an array"
        default:
            let text = tape.text(value, in: bytes)
            if text.count <= 60 { return String(decoding: text, as: UTF8.self) }
            return String(decoding: UnsafeRawBufferPointer(rebasing: text[0..<60]), as: UTF8.self) + "…"
        }
    }

    static func kindName(_ kind: JSONTape.Kind) -> String {
        switch kind {
        case .null: "null"
        case .bool: "true or false"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    // MARK: Enrichment

    /// Writes the enrichment keys and the closing brace of a `users.jsonl` line; returns the
    /// department name when the table lacks it.
    private func writeEnrichment(
        line: Int, fields: Fields, email: [UInt8], age: Int, department: Int,
        hash: SHA256.Digest, _ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]
    ) -> String? {
        out.append(",\"full_name\":")
        appendFullName(fields.firstName, fields.lastName, bytes, &out)

        out.append(",\"email_domain\":\"")
        let at = email.lastIndex(of: UInt8(ascii: "@"))!
        for c in email[(at + 1)...] {
            out.append(c &- UInt8(ascii: "A") < 26 ? c | 0x20 : c)
        }
        out.append(UInt8(ascii: "\""))

        out.append(",\"age_group\":\"")
        out.append(FieldRules.ageGroup(age))
        out.append(UInt8(ascii: "\""))

        out.append(",\"department_code\":")
        var unknown: String?
        let raw = tape.content(department, in: bytes)
        let code = tape.nodes[department].flag
            ? rules.departments.code(for: tape.decodedString(department, in: bytes))
            : rules.departments.code(forUTF8: raw)
        if let code {
            out.appendJSONString(code)
        } else {
            out.append("\"UNKNOWN\"")
            unknown = tape.decodedString(department, in: bytes).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        let height = fields.height >= 0 ? tape.doubleValue(fields.height, in: bytes) : nil
        let weight = fields.weight >= 0 ? tape.doubleValue(fields.weight, in: bytes) : nil
        if let tenths = FieldRules.bmiTenths(heightCm: height, weightKg: weight) {
            out.append(",\"bmi\":")
            out.appendInt(tenths / 10)
            out.append(UInt8(ascii: "."))
            out.append(UInt8(ascii: "0") + UInt8(tenths % 10))
            out.append(",\"bmi_category\":\"")
            out.append(FieldRules.bmiCategory(tenths: tenths))
            out.append(UInt8(ascii: "\""))
        } else {
            out.append(",\"bmi\":null,\"bmi_category\":null")
        }

        out.append(",\"birth_date\":")
        if let date = birthDate(fields.birthDate, bytes) {
            out.append(UInt8(ascii: "\""))
            appendPadded(date.year, 4, &out)
            out.append(UInt8(ascii: "-"))
            appendPadded(date.month, 2, &out)
            out.append(UInt8(ascii: "-"))
            appendPadded(date.day, 2, &out)
            out.append(UInt8(ascii: "\""))
        } else {
            out.append("null")
        }

        out.append(",\"line\":")
        out.appendInt(line)
        out.append(contentsOf: userTail)
        Self.appendHex(hash, &out)
        out.append("\"}")
        return unknown
    }

    private func birthDate(_ value: Int, _ bytes: UnsafeRawBufferPointer) -> (year: Int, month: Int, day: Int)? {
        guard value >= 0, tape.nodes[value].kind == .string else { return nil }
        if tape.nodes[value].flag {
            return tape.decodedBytes(value, in: bytes).withUnsafeBytes { FieldRules.normalizedBirthDate($0) }
        }
        return FieldRules.normalizedBirthDate(tape.content(value, in: bytes))
    }

    /// `firstName + " " + lastName`, trimmed. Copied straight from the line when neither has
    /// escapes and the ends are plain ASCII; decoded and re-escaped otherwise.
    private func appendFullName(_ first: Int, _ last: Int, _ bytes: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
        if !tape.nodes[first].flag && !tape.nodes[last].flag {
            let a = tape.content(first, in: bytes)
            let b = tape.content(last, in: bytes)
            var start = 0
            while start < a.count && a[start] == 0x20 { start += 1 }
            var end = b.count
            while end > 0 && b[end - 1] == 0x20 { end -= 1 }
            if start < a.count, a[start] < 0x80, end > 0, b[end - 1] < 0x80 {
                out.append(UInt8(ascii: "\""))
                out.append(UnsafeRawBufferPointer(rebasing: a[start...]))
                out.append(UInt8(ascii: " "))
                out.append(UnsafeRawBufferPointer(rebasing: b[..<end]))
                out.append(UInt8(ascii: "\""))
                return
            }
        }
        let name = tape.decodedString(first, in: bytes) + " " + tape.decodedString(last, in: bytes)
        out.appendJSONString(name.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private func appendPadded(_ value: Int, _ width: Int, _ out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        if value >= divisor * 10 {
            out.appendInt(value)
            return
        }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    static func appendHex(_ digest: some ContiguousBytes, _ out: inout [UInt8]) {
        digest.withUnsafeBytes { raw in
            for byte in raw {
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
