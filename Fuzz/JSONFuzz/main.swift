// libFuzzer target over the JSON core (docs/RELIABILITY.md, "Fuzzing"): any bytes go to
// `JSONTape.parse`; a parse must never crash or read out of bounds, and what it accepts must keep
// every invariant the stages rely on. Built only with `-sanitize=fuzzer` (scripts/fuzz.sh); takes
// libFuzzer's flags.
import CFuzzerDriver
import Foundation
import PipelineJSON

/// Stops the run with a message: libFuzzer saves the input as a crash artifact.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        FileHandle.standardError.write(Data("JSONFuzz: invariant failed: \(message())\n".utf8))
        abort()
    }
}

enum JSONCheck {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        var tape = JSONTape()
        var failure: JSONSyntaxError?
        do { try tape.parse(bytes) } catch { failure = error }
        if let failure {
            require(failure.offset >= 0 && failure.offset <= bytes.count, "error offset \(failure.offset) outside 0...\(bytes.count)")
            // Messages name JSON punctuation only: never a byte of the input outside ASCII.
            require(failure.reason.utf8.allSatisfy { $0 < 0x80 }, "error message carries non-ASCII bytes")
        }

        // Recording fewer levels validates exactly the same: same verdict, same error, and the
        // nodes it records are those of the full tape at that depth.
        let recordingDepth = bytes.isEmpty ? 0 : Int(bytes[bytes.count - 1] % 4)
        var shallow = JSONTape()
        var shallowFailure: JSONSyntaxError?
        do { try shallow.parse(bytes, recordingDepth: recordingDepth) } catch { shallowFailure = error }
        require(shallowFailure == failure, "recordingDepth \(recordingDepth) gave \(String(describing: shallowFailure)), full parse \(String(describing: failure))")

        compareWithFoundation(bytes, accepted: failure == nil, tape: tape)
        guard failure == nil else { return }

        var depths: [Int] = Array(repeating: -1, count: tape.nodes.count)
        let end = checkNode(tape, 0, depth: 0, lower: 0, upper: bytes.count, bytes, &depths)
        require(end == tape.nodes.count, "root subtree ends at \(end), tape has \(tape.nodes.count) nodes")
        require(depths.allSatisfy { $0 >= 0 }, "a node outside the root's subtree")
        let root = tape.root
        require(isWhitespace(bytes, 0, Int(root.start)) && isWhitespace(bytes, Int(root.end), bytes.count),
                "non-whitespace outside the root value")
        require(tape.isCompact == !hasWhitespaceOutsideStrings(tape, bytes), "isCompact is \(tape.isCompact)")
        checkShallow(tape, depths, shallow, recordingDepth)
        checkRoundTrips(tape, bytes)
    }

    static func isWhitespace(_ bytes: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> Bool {
        guard from < to else { return true }
        return bytes[from..<to].allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
    }

    /// Checks the subtree at `index`: spans nested in their parent, kinds matching their text,
    /// counts and `next` links consistent. Returns the index just past the subtree.
    static func checkNode(_ tape: JSONTape, _ index: Int, depth: Int, lower: Int, upper: Int,
                          _ bytes: UnsafeRawBufferPointer, _ depths: inout [Int]) -> Int {
        require(index < tape.nodes.count, "node index \(index) past the tape")
        let node = tape.nodes[index]
        let start = Int(node.start), end = Int(node.end), next = Int(node.next)
        depths[index] = depth
        require(lower <= start && start < end && end <= upper, "node \(index) spans \(start)..<\(end) outside \(lower)..<\(upper)")
        require(next > index && next <= tape.nodes.count, "node \(index) has next \(next)")
        let text = Array(bytes[start..<end])
        switch node.kind {
        case .null:
            require(text == Array("null".utf8), "null node text")
            require(next == index + 1, "leaf next")
        case .bool:
            require(text == Array((node.flag ? "true" : "false").utf8), "bool node text")
            require(next == index + 1, "leaf next")
        case .number:
            require(text[0] == UInt8(ascii: "-") || (text[0] >= 0x30 && text[0] <= 0x39), "number starts with \(text[0])")
            let integer = !text.contains(UInt8(ascii: ".")) && !text.contains(UInt8(ascii: "e")) && !text.contains(UInt8(ascii: "E"))
            require(node.flag == integer, "number integer flag")
            require(text.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || "-+.eE".utf8.contains($0) }, "number characters")
            if integer, let value = tape.intValue(index, in: bytes) {
                require(String(value) == String(decoding: text, as: UTF8.self) || text == Array("-0".utf8), "intValue \(value)")
            }
            require(next == index + 1, "leaf next")
        case .string:
            require(text.count >= 2 && text.first == 0x22 && text.last == 0x22, "string node not quoted")
            require(node.flag == text.contains(UInt8(ascii: "\\")), "string escape flag")
            let decoded = tape.decodedBytes(index, in: bytes)
            require(String(validating: decoded, as: UTF8.self) != nil, "a decoded string is not valid UTF-8")
            require(decoded == Array(tape.decodedString(index, in: bytes).utf8), "decodedBytes and decodedString differ")
            require(next == index + 1, "leaf next")
        case .array, .object:
            let isObject = node.kind == .object
            require(text.first == UInt8(ascii: isObject ? "{" : "[") && text.last == UInt8(ascii: isObject ? "}" : "]"),
                    "container brackets")
            var child = index + 1
            var position = start + 1
            for _ in 0..<Int(node.count) {
                if isObject {
                    require(child < tape.nodes.count && tape.nodes[child].kind == .string, "object key is not a string")
                    child = checkNode(tape, child, depth: depth + 1, lower: position, upper: end - 1, bytes, &depths)
                    position = Int(tape.nodes[child - 1].end)
                }
                let value = child
                child = checkNode(tape, value, depth: depth + 1, lower: position, upper: end - 1, bytes, &depths)
                position = Int(tape.nodes[value].end)
            }
            require(child == next, "container \(index): children end at \(child), next is \(next)")
            if isObject {
                let members = tape.members(of: index)
                require(members.count == Int(node.count), "members(of:) count")
            }
        }
        return next
    }

    static func hasWhitespaceOutsideStrings(_ tape: JSONTape, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var inString = Array(repeating: false, count: bytes.count)
        for node in tape.nodes where node.kind == .string {
            for k in Int(node.start)..<Int(node.end) { inString[k] = true }
        }
        for (k, c) in bytes.enumerated() where !inString[k] && (c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09) {
            return true
        }
        return false
    }

    /// A tape recorded to `recordingDepth` holds exactly the full tape's nodes at that depth or
    /// less, in order, with the same spans and counts.
    static func checkShallow(_ tape: JSONTape, _ depths: [Int], _ shallow: JSONTape, _ recordingDepth: Int) {
        let kept = tape.nodes.indices.filter { depths[$0] <= recordingDepth }
        require(kept.count == shallow.nodes.count, "recordingDepth \(recordingDepth) recorded \(shallow.nodes.count) nodes, expected \(kept.count)")
        for (k, index) in kept.enumerated() {
            let a = tape.nodes[index], b = shallow.nodes[k]
            require(a.kind == b.kind && a.start == b.start && a.end == b.end && a.count == b.count && a.flag == b.flag,
                    "shallow node \(k) differs from full node \(index)")
            require(Int(b.next) > k && Int(b.next) <= shallow.nodes.count, "shallow next")
        }
    }

    static func checkRoundTrips(_ tape: JSONTape, _ bytes: UnsafeRawBufferPointer) {
        let value = JSONValue(tape, 0, in: bytes)

        // JSONValue → JSONWriter → JSONTape: the same value, and writing it again gives the same bytes.
        let written = JSONWriter.bytes(value)
        let reread: JSONValue
        do { reread = try JSONValue.parse(written) } catch {
            require(false, "JSONWriter wrote invalid JSON: \(error)")
            return
        }
        require(reread == value, "writer → parser changed the value")
        require(JSONWriter.bytes(reread) == written, "writer output is not stable")
        require(!written.contains(0x0A), "JSONWriter wrote a raw newline")
    }

    // MARK: Foundation as a second opinion

    /// Foundation's JSONSerialization must agree with the parser wherever RFC 8259 is clear.
    /// Where Foundation departs from it (documented in docs/RELIABILITY.md) the input is skipped:
    /// it guesses UTF-16/32 from NUL bytes and skips a byte order mark, even one inside a string
    /// (U+FEFF at the start of a string or after an escape disappears); it accepts trailing
    /// commas, and refuses lone surrogate escapes and numbers beyond a Double (both allowed by
    /// the RFC's grammar); the parser refuses nesting deeper than ``JSONTape/maxDepth`` on purpose.
    static func compareWithFoundation(_ bytes: UnsafeRawBufferPointer, accepted: Bool, tape: JSONTape) {
        if bytes.contains(0) || bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE])
            || ByteSearch.contains(bytes, [0xEF, 0xBB, 0xBF]) {
            return
        }
        let lexical = scan(bytes)
        if lexical.trailingComma || lexical.maxNesting > JSONTape.maxDepth { return }
        let object: Any?
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            object = nil
        }
        if !accepted {
            require(object == nil, "Foundation accepts what JSONTape refuses")
            return
        }
        guard let object else {
            require(lexical.surrogateEscape || hasHugeNumber(tape, bytes), "JSONTape accepts what Foundation refuses")
            return
        }
        require(sameValue(tape, 0, bytes, object), "Foundation reads a different value")
    }

    struct Lexical {
        var trailingComma = false
        var maxNesting = 0
        var surrogateEscape = false
    }

    /// A string-aware pass over the bytes (they need not be valid JSON).
    static func scan(_ bytes: UnsafeRawBufferPointer) -> Lexical {
        var result = Lexical()
        var nesting = 0
        var inString = false
        var k = 0
        var lastSignificant: UInt8 = 0
        while k < bytes.count {
            let c = bytes[k]
            if inString {
                if c == UInt8(ascii: "\\") {
                    if k + 2 < bytes.count, bytes[k + 1] == UInt8(ascii: "u"), bytes[k + 2] | 0x20 == UInt8(ascii: "d") {
                        result.surrogateEscape = true
                    }
                    k += 2
                    continue
                }
                if c == 0x22 { inString = false }
                k += 1
                continue
            }
            switch c {
            case 0x22: inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                nesting += 1
                result.maxNesting = max(result.maxNesting, nesting)
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if lastSignificant == UInt8(ascii: ",") { result.trailingComma = true }
                nesting -= 1
            default: break
            }
            if !(c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09) { lastSignificant = c }
            k += 1
        }
        return result
    }

    static func hasHugeNumber(_ tape: JSONTape, _ bytes: UnsafeRawBufferPointer) -> Bool {
        tape.nodes.indices.contains { tape.nodes[$0].kind == .number && tape.doubleValue($0, in: bytes) == nil }
    }

    /// Structure and strings equal (numbers compared by kind only: Foundation picks its own types).
    static func sameValue(_ tape: JSONTape, _ index: Int, _ bytes: UnsafeRawBufferPointer, _ object: Any) -> Bool {
        let node = tape.nodes[index]
        switch node.kind {
        case .null: return object is NSNull
        case .bool, .number: return object is NSNumber
        case .string:
            guard let text = object as? String else { return false }
            return Array(text.utf8) == tape.decodedBytes(index, in: bytes)
        case .array:
            guard let items = object as? [Any], items.count == Int(node.count) else { return false }
            var element = index + 1
            for item in items {
                if !sameValue(tape, element, bytes, item) { return false }
                element = Int(tape.nodes[element].next)
            }
            return true
        case .object:
            guard let members = object as? [String: Any] else { return false }
            // The last of a repeated key wins, as in Foundation.
            var last: [String: Int] = [:]
            tape.forEachMember(of: index) { key, value in last[tape.decodedString(key, in: bytes)] = value }
            guard last.count == members.count else { return false }
            for (key, value) in last {
                guard let other = members[key], sameValue(tape, value, bytes, other) else { return false }
            }
            return true
        }
    }
}

enum ByteSearch {
    static func contains(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { start in
            haystack[start] == needle[0] && haystack[start..<(start + needle.count)].elementsEqual(needle)
        }
    }
}

// libFuzzer's loop, last: the globals above are set by then.
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, count in
    JSONCheck.run(UnsafeRawBufferPointer(start: data, count: count))
    return 0
})
