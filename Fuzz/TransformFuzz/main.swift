// libFuzzer target over "raw lines → everything the transformer writes" (docs/RELIABILITY.md,
// "Fuzzing"). Each input is used twice:
//
// 1. As raw.jsonl bytes: split into lines as JSONLReader does and transformed. Nothing may
//    crash; every line written must be one valid JSON object; and when `PLANTEDSECRET` appears in
//    a line only under secret keys (as SecretFields sees them), it appears in no output.
// 2. As choices: a DummyJSON-like user is built from the bytes, with the marker planted under
//    secret keys in many spellings (cases, separators, escapes), at any depth and inside arrays,
//    next to valid and invalid rule fields. The marker may then appear in no output at all:
//    raw.masked, users, dlq, nor the log lines.
//
// Built only with `-sanitize=fuzzer` (scripts/fuzz.sh); takes libFuzzer's flags.
import CFuzzerDriver
import Crypto
import Foundation
import Logging
import PipelineCore
import PipelineJSON
import Synchronization
import TransformerCore

func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        FileHandle.standardError.write(Data("TransformFuzz: invariant failed: \(message())\n".utf8))
        abort()
    }
}

/// What the transformer's logger wrote.
let logLines = Mutex<[String]>([])

enum TransformCheck {
    static let marker = "PLANTEDSECRET"
    static let markerBytes = Array(marker.utf8)

    static let departments: DepartmentTable = {
        do { return try DepartmentTable.bundled() } catch {
            fatalError("TransformFuzz: the bundled departments table is missing: \(error)")
        }
    }()

    /// The default list, and every name kept as `last4` so that masked values are written too.
    static let configurations: [TransformRules] = [
        TransformRules(departments: departments, masking: SecretMasking(fields: .default)),
        TransformRules(ageRange: 0...200, departments: departments, masking: SecretMasking(fields: try! SecretFields(
            parsing: "*password*,passwd,ssn,socialSecurityNumber,ein,*cardNumber,iban,*wallet"))),
    ]

    static let context = TransformContext(
        runID: "20260101T000000Z-fuzz", extractedAt: "2026-01-01T00:00:00Z", transformedAt: "2026-01-01T00:00:01Z",
        lineDigestKey: SymmetricKey(data: Array(repeating: UInt8(7), count: 32)))

    static let logger = Logger(label: "transformer") { label in
        LineLogHandler(stage: label, level: .trace, format: .text, sink: LineSink { line in
            logLines.withLock { $0.append(line) }
        })
    }

    /// What the transformer wrote for `lines`, checked for shape, with every string in it decoded.
    struct Written {
        var out: TransformedLines
        /// Each output line's file and decoded strings (keys included).
        var texts: [(file: String, line: [UInt8], strings: [String])] = []
    }

    static func transform(_ lines: [[UInt8]], _ rules: TransformRules) -> Written {
        logLines.withLock { $0.removeAll(keepingCapacity: true) }
        let out = FileTransform.transform(lines: lines, rules: rules, context: context, logger: logger)
        require(out.masked.count == lines.count, "\(out.masked.count) raw.masked lines for \(lines.count) lines")
        require(out.users.count + out.dlq.count == lines.count,
                "\(out.users.count) users + \(out.dlq.count) dlq lines for \(lines.count) lines")
        var written = Written(out: out)
        for (file, outputs) in [("raw.masked", out.masked), ("users", out.users), ("dlq", out.dlq)] {
            for line in outputs {
                require(!line.contains(0x0A), "a \(file) line holds a newline")
                let value: JSONValue
                do { value = try JSONValue.parse(line) } catch {
                    require(false, "a \(file) line is not JSON: \(error)")
                    return written
                }
                require(value.objectValue != nil, "a \(file) line is not a JSON object")
                var strings: [String] = []
                Self.strings(value, into: &strings)
                written.texts.append((file, line, strings))
            }
        }
        return written
    }

    /// Every string in a JSON value, keys included, decoded.
    static func strings(_ value: JSONValue, into out: inout [String]) {
        switch value {
        case .string(let text): out.append(text)
        case .number(let text): out.append(text)
        case .array(let items): for item in items { strings(item, into: &out) }
        case .object(let members):
            for member in members {
                out.append(member.key)
                strings(member.value, into: &out)
            }
        case .fragment(let fragment): strings(fragment.value, into: &out)
        case .null, .bool: break
        }
    }

    /// Where the marker appears in an output line (raw or decoded) or a log line, if it does.
    static func leaked(_ written: Written) -> String? {
        for (file, line, strings) in written.texts {
            if contains(line, markerBytes) { return "\(file): \(String(decoding: line, as: UTF8.self))" }
            if let text = strings.first(where: { contains(Array($0.utf8), markerBytes) }) { return "\(file) (decoded): \(text)" }
        }
        if let line = logLines.withLock({ $0.first { contains(Array($0.utf8), markerBytes) } }) { return "log: \(line)" }
        return nil
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start] == needle[0] && haystack[start..<(start + needle.count)].elementsEqual(needle)
        }
    }

    // MARK: 1. The input as raw lines

    static func rawLines(_ bytes: UnsafeRawBufferPointer) {
        // As JSONLReader: split on \n; a final line without \n still counts; at most 8 lines here.
        var lines = bytes.split(separator: 0x0A, maxSplits: 8, omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }
        lines = lines.map { $0.filter { $0 != 0x0A } }
        let rules = configurations[0]
        let written = transform(lines, rules)

        var mayAppear = false
        for (k, line) in lines.enumerated() {
            guard let value = try? JSONValue.parse(line), case .object = value else {
                // Not a JSON object: only a placeholder leaves staging, none of the line's bytes.
                let masked = written.out.masked[k]
                require(masked.starts(with: Array(#"{"rejected_line":{"bytes":"#.utf8)),
                        "line \(k + 1) is not a JSON object, yet raw.masked holds \(String(decoding: masked, as: UTF8.self))")
                continue
            }
            var visible: [String] = []
            publicStrings(value, rules.masking.fields, into: &visible)
            if visible.contains(where: { contains(Array($0.utf8), markerBytes) }) { mayAppear = true }
        }
        if !mayAppear, let where_ = leaked(written) {
            require(false, "a value under a secret key leaked into \(where_)")
        }
    }

    /// Every key, and every value outside a secret member's value: what may legitimately be written.
    static func publicStrings(_ value: JSONValue, _ fields: SecretFields, into out: inout [String]) {
        switch value {
        case .string(let text): out.append(text)
        case .number(let text): out.append(text)
        case .array(let items): for item in items { publicStrings(item, fields, into: &out) }
        case .object(let members):
            for member in members {
                out.append(member.key)
                if fields.treatment(forKey: member.key) == nil { publicStrings(member.value, fields, into: &out) }
            }
        case .fragment(let fragment): publicStrings(fragment.value, fields, into: &out)
        case .null, .bool: break
        }
    }

    // MARK: 2. A user built from the input, with planted secrets

    static func planted(_ bytes: UnsafeRawBufferPointer) {
        var source = Choices(bytes)
        let rules = configurations[Int(source.next() % UInt8(configurations.count))]
        var generator = UserGenerator(source: source)
        var lines: [[UInt8]] = []
        let count = 1 + Int(generator.source.next() % 3)
        for _ in 0..<count { lines.append(generator.line()) }
        if let where_ = leaked(transform(lines, rules)) {
            let input = lines.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
            require(false, "a planted secret leaked into \(where_)\ninput:\n\(input)")
        }
    }
}

/// The fuzz input read as a stream of choices (zeros once it runs out).
struct Choices {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = Array(bytes) }

    mutating func next() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func pick<T>(_ options: [T]) -> T { options[Int(next()) % options.count] }

    /// Up to `limit` input bytes as a JSON string's content, never containing `P` (so no
    /// public text can spell the marker), escaped where JSON needs it.
    mutating func text(limit: Int) -> String {
        let length = Int(next()) % (limit + 1)
        var out = ""
        for _ in 0..<length {
            let c = next()
            switch c {
            case UInt8(ascii: "P"): out += "p"
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case 0..<0x20, 0x7F...:
                // A control byte stays a control character; any other becomes one of U+00E0...U+00FF.
                let scalar = c < 0x20 ? Int(c) : 0xE0 + Int(c & 0x1F)
                out += "\\u00" + String(scalar >> 4, radix: 16) + String(scalar & 0xF, radix: 16)
            default: out += String(UnicodeScalar(c))
            }
        }
        return out
    }
}

/// Builds one JSON line: a DummyJSON-shaped user whose fields are valid or not, with secrets
/// planted under secret keys.
struct UserGenerator {
    var source: Choices
    var planted = 0

    init(source: Choices) { self.source = source }

    /// A JSON value as text, or a container to lay out.
    indirect enum Node {
        case text(String)
        case array([Node])
        case object([(key: String, value: Node)])
    }

    /// Secret key spellings, as JSON string content (escapes allowed): every entry of the
    /// default SECRET_FIELDS in other cases and separators, with prefixes and suffixes where the
    /// entry has a `*`.
    static let secretKeys = [
        "password", "Password", "PASSWORD", "pass_word", "pass-word", "Pass Word", "oldPassword", "password_hash",
        "user.password.v2", "pass\\u0077ord", "\\u0050ASSWORD", "passwd", "PASSWD", "pass-wd",
        "ssn", "SSN", "S.S.N", "s s n", "\\u0073sn", "socialSecurityNumber", "social_security_number",
        "SOCIAL-SECURITY-NUMBER", "ein", "EIN", "e_i_n", "E-I-N",
        "cardNumber", "card_number", "Card Number", "CARD-NUMBER", "creditCardNumber", "card\\u005fnumber",
        "iban", "IBAN", "i-b-a-n", "\\u0049BAN", "wallet", "Wallet", "cryptoWallet", "crypto_wallet", "wal\\u006cet",
    ]

    static let publicKeys = ["bank", "crypto", "address", "meta", "items", "hair", "company", "notes", "tags", "x"]

    mutating func line() -> [UInt8] {
        var members: [(key: String, value: Node)] = []
        field(&members, "id", valid: ["1", "2", "3", "208", "9007199254740993"], invalid: ["0", "-1", "1.5", "\"7\"", "null", "[]"])
        field(&members, "firstName", valid: ["\"Emily\"", "\"Zo\\u00eb\"", "\" Ann \"", "\"李\""], invalid: ["\"\"", "\"   \"", "3", "{}"])
        field(&members, "lastName", valid: ["\"Johnson\"", "\"O\\\"Brien\"", "\"Smith \""], invalid: ["\"\"", "null"])
        field(&members, "email", valid: ["\"emily.johnson@x.dummyjson.com\"", "\"A.B@EXAMPLE.COM\"", "\"e\\u0040x.io\""],
              invalid: ["\"emily\"", "\"a@b\"", "\"@x.com\"", "\"\"", "1"])
        field(&members, "age", valid: ["28", "18", "65", "40"], invalid: ["17", "66", "28.0", "\"28\"", "1e2"])
        field(&members, "birthDate", valid: ["\"1996-5-30\"", "\"2000-02-29\"", "\"1990-12-01\""], invalid: ["\"yesterday\"", "7"])
        field(&members, "height", valid: ["193.24", "170", "1e2"], invalid: ["0", "\"tall\"", "-5"])
        field(&members, "weight", valid: ["63.16", "80", "45.5"], invalid: ["0", "null"])
        if source.next() % 8 != 0 {
            var company: [(key: String, value: Node)] = []
            field(&company, "department", valid: ["\"Engineering\"", "\"Support\"", "\"Research and Development\"", "\"Nowhere\""],
                  invalid: ["\"\"", "\" \"", "5", "null"])
            company.append(("name", .text("\"Dooley, Kozey and Cronin\"")))
            plantSome(into: &company)
            members.append(("company", .object(company)))
        }
        plantSome(into: &members)
        // Public members made of input bytes.
        for _ in 0..<Int(source.next() % 3) {
            members.append((source.text(limit: 12), .text("\"" + source.text(limit: 24) + "\"")))
        }
        // Shuffle by rotating: the rules read fields wherever they are.
        if !members.isEmpty {
            let shift = Int(source.next()) % members.count
            members = Array(members[shift...] + members[..<shift])
        }
        let spaced = source.next() % 4 == 0
        var out = ""
        write(.object(members), spaced: spaced, into: &out)
        return Array(out.utf8)
    }

    mutating func field(_ members: inout [(key: String, value: Node)], _ name: String, valid: [String], invalid: [String]) {
        let choice = source.next()
        switch choice % 8 {
        case 0: return
        case 1: members.append((name, .text(source.pick(invalid))))
        default: members.append((name, .text(source.pick(valid))))
        }
    }

    mutating func plantSome(into members: inout [(key: String, value: Node)]) {
        for _ in 0..<Int(source.next() % 4) {
            members.append(secretMember())
        }
    }

    /// A secret key with a marked value, possibly wrapped in public objects and arrays.
    mutating func secretMember() -> (key: String, value: Node) {
        var member: (key: String, value: Node) = (source.pick(Self.secretKeys), secretValue())
        for _ in 0..<Int(source.next() % 4) {
            switch source.next() % 3 {
            case 0:
                member = (source.pick(Self.publicKeys), .object([member]))
            case 1:
                var siblings: [Node] = [.object([member])]
                if source.next() % 2 == 0 { siblings.insert(.text("\"" + source.text(limit: 8) + "\""), at: 0) }
                if source.next() % 2 == 0 { siblings.append(.object([(source.pick(Self.publicKeys), .text("1"))])) }
                member = (source.pick(Self.publicKeys), .array(siblings))
            default:
                member = (source.pick(Self.publicKeys), .object([(source.pick(Self.publicKeys), .text("null")), member]))
            }
        }
        return member
    }

    /// The value under a secret key: the marker in a string (spelled many ways), or a number,
    /// object, array, `null` holding it.
    mutating func secretValue() -> Node {
        planted += 1
        let spellings = [
            "PLANTEDSECRET", "PLANTED\\u0053ECRET", "\\u0050LANTEDSECRET", "PLANTEDSECRE\\u0054", "PLANTEDSEC\\u0052ET",
        ]
        let before = ["", "x", "é", "\\n", "🔑", "e\\u0301", "  ", "4929"]
        let after = ["", "1", "12", "123", "1234", "12345", "é", "\\t", "🔑🔑", "\\u0301\\u0301"]
        func marked(_ source: inout Choices) -> String {
            let spelling = source.pick(spellings)
            return "\"" + source.pick(before) + spelling + source.pick(after) + "\""
        }
        switch source.next() % 8 {
        case 0: return .object([("value", .text(marked(&source))), ("n", .text("12"))])
        case 1: return .array([.text(marked(&source)), .text("7")])
        case 2: return .text("null")
        case 3: return .text("98765432100")
        default: return .text(marked(&source))
        }
    }

    func write(_ node: Node, spaced: Bool, into out: inout String) {
        let gap = spaced ? " " : ""
        switch node {
        case .text(let text): out += text
        case .array(let items):
            out += "[" + gap
            for (k, item) in items.enumerated() {
                if k > 0 { out += "," + gap }
                write(item, spaced: spaced, into: &out)
            }
            out += gap + "]"
        case .object(let members):
            out += "{" + gap
            for (k, member) in members.enumerated() {
                if k > 0 { out += "," + gap }
                out += "\"" + member.key + "\"" + gap + ":" + gap
                write(member.value, spaced: spaced, into: &out)
            }
            out += gap + "}"
        }
    }
}

// libFuzzer's loop, last: the globals above are set by then.
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, count in
    let bytes = UnsafeRawBufferPointer(start: data, count: count)
    TransformCheck.rawLines(bytes)
    TransformCheck.planted(bytes)
    return 0
})
