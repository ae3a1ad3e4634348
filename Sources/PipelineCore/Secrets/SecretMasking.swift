import PipelineJSON

/// Writes JSON with every secret masked: the one place where a value under a secret key is
/// dropped or cut to its last four characters (docs/STAGING.md, "Secrets").
///
/// The transformer writes every line that leaves staging through it, and the API runs what it
/// serves through it again, on the same ``SecretFields``, as a second line of defence.
public struct SecretMasking: Sendable, Equatable {
    public var fields: SecretFields

    public init(fields: SecretFields = .default) {
        self.fields = fields
    }

    /// What replaces a secret that is not a string (a number, an object, …).
    public static let nonString: StaticString = "\"****\""

    /// The masked form of a secret string: the same number of characters, all but the last four
    /// replaced by `*`. A value of four characters or fewer is masked entirely, since its "last
    /// four" would be all of it.
    public static func mask(_ value: String) -> String {
        let count = value.count
        guard count > 4 else { return String(repeating: "*", count: count) }
        return String(repeating: "*", count: count - 4) + value.suffix(4)
    }

    /// A whole document, compact, with its secrets masked.
    public func masked(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> [UInt8] {
        var tape = JSONTape()
        try tape.parse(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        append(tape, 0, in: bytes, to: &out)
        return out
    }

    public func masked(_ text: String) throws(JSONSyntaxError) -> [UInt8] {
        var text = text
        return try text.withUTF8 { buffer in Result { () throws(JSONSyntaxError) in try masked(UnsafeRawBufferPointer(buffer)) } }.get()
    }

    /// Appends the value at `index`, compact, with every secret inside it masked.
    public func append(_ tape: JSONTape, _ index: Int, in bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        var cache = SecretKeyCache()
        append(tape, index, in: bytes, to: &out, cache: &cache)
    }

    /// The same, remembering key treatments in `cache` from row to row (a worker's own cache).
    public func append(_ tape: JSONTape, _ index: Int, in bytes: UnsafeRawBufferPointer, to out: inout [UInt8],
                       cache: inout SecretKeyCache) {
        if tape.isCompact {
            var splice = Splice(copied: Int(tape.nodes[index].start))
            splice.visit(tape, index, in: bytes, masking: self, cache: &cache, to: &out)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[splice.copied..<Int(tape.nodes[index].end)]))
            return
        }
        let node = tape.nodes[index]
        switch node.kind {
        case .object:
            out.append(UInt8(ascii: "{"))
            var first = true
            tape.forEachMember(of: index) { key, value in
                appendMember(tape, key: key, value: value, in: bytes, to: &out, first: &first)
            }
            out.append(UInt8(ascii: "}"))
        case .array:
            out.append(UInt8(ascii: "["))
            var element = index + 1
            for k in 0..<Int(node.count) {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                append(tape, element, in: bytes, to: &out)
                element = Int(tape.nodes[element].next)
            }
            out.append(UInt8(ascii: "]"))
        default:
            out.append(contentsOf: tape.text(index, in: bytes))
        }
    }

    /// Appends one `"key":value` member of an object (preceded by a comma unless `first`), with
    /// the key's treatment applied; a dropped member writes nothing and leaves `first` alone.
    public func appendMember(_ tape: JSONTape, key: Int, value: Int, in bytes: UnsafeRawBufferPointer,
                             to out: inout [UInt8], first: inout Bool) {
        let treatment = treatment(ofKey: key, tape, in: bytes)
        if treatment == .drop { return }
        if !first { out.append(UInt8(ascii: ",")) }
        first = false
        out.append(contentsOf: tape.text(key, in: bytes))
        out.append(UInt8(ascii: ":"))
        if treatment == .last4 {
            appendSecret(tape, value, in: bytes, to: &out)
        } else {
            append(tape, value, in: bytes, to: &out)
        }
    }

    /// The treatment of the object key (a string node) at `key`.
    @inline(__always)
    public func treatment(ofKey key: Int, _ tape: JSONTape, in bytes: UnsafeRawBufferPointer) -> SecretFields.Treatment? {
        if tape.nodes[key].flag {
            return tape.decodedBytes(key, in: bytes).withUnsafeBytes { fields.treatment(forKey: $0) }
        }
        return fields.treatment(forKey: tape.content(key, in: bytes))
    }

    /// A compact document is its own compact output except where a secret is: its bytes are
    /// copied in runs, and only the secret members are cut out or replaced, so a row costs a walk
    /// over its keys and a few copies rather than one append per value.
    private struct Splice {
        /// The first byte of the document not yet written.
        var copied: Int

        mutating func visit(_ tape: JSONTape, _ index: Int, in bytes: UnsafeRawBufferPointer, masking: SecretMasking,
                            cache: inout SecretKeyCache, to out: inout [UInt8]) {
            let node = tape.nodes[index]
            switch node.kind {
            case .object:
                var key = index + 1
                var wroteAny = false
                for member in 0..<Int(node.count) {
                    let value = key + 1
                    let next = Int(tape.nodes[value].next)
                    let treatment = tape.nodes[key].flag
                        ? masking.treatment(ofKey: key, tape, in: bytes)
                        : cache.treatment(forKey: tape.content(key, in: bytes), in: masking.fields)
                    switch treatment {
                    case .drop?:
                        // The member and one comma: the one before it when a member before it is
                        // kept, else the one after it (if any).
                        let last = member == Int(node.count) - 1
                        let start = wroteAny ? Int(tape.nodes[key].start) - 1 : Int(tape.nodes[key].start)
                        let end = !wroteAny && !last ? Int(tape.nodes[value].end) + 1 : Int(tape.nodes[value].end)
                        copy(upTo: start, bytes, &out)
                        copied = end
                    case .last4?:
                        wroteAny = true
                        copy(upTo: Int(tape.nodes[value].start), bytes, &out)
                        masking.appendSecret(tape, value, in: bytes, to: &out)
                        copied = Int(tape.nodes[value].end)
                    case nil:
                        wroteAny = true
                        let kind = tape.nodes[value].kind
                        if kind == .object || kind == .array { visit(tape, value, in: bytes, masking: masking, cache: &cache, to: &out) }
                    }
                    key = next
                }
            case .array:
                var element = index + 1
                for _ in 0..<Int(node.count) {
                    let kind = tape.nodes[element].kind
                    if kind == .object || kind == .array { visit(tape, element, in: bytes, masking: masking, cache: &cache, to: &out) }
                    element = Int(tape.nodes[element].next)
                }
            default:
                break
            }
        }

        @inline(__always)
        private mutating func copy(upTo end: Int, _ bytes: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
            if end > copied { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[copied..<end])) }
            copied = max(copied, end)
        }
    }

    /// `"************2404"`: the same number of characters, all but the last four masked.
    fileprivate func appendSecret(_ tape: JSONTape, _ value: Int, in bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let node = tape.nodes[value]
        guard node.kind == .string else {
            out.append(Self.nonString)
            return
        }
        let raw = tape.content(value, in: bytes)
        if !node.flag && !raw.contains(where: { $0 >= 0x80 }) {
            // Plain ASCII: characters are bytes, and the kept tail needs no escaping.
            out.append(UInt8(ascii: "\""))
            let kept = raw.count > 4 ? 4 : 0
            out.append(contentsOf: repeatElement(UInt8(ascii: "*"), count: raw.count - kept))
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(raw.count - kept)...]))
            out.append(UInt8(ascii: "\""))
        } else {
            out.appendJSONString(Self.mask(tape.decodedString(value, in: bytes)))
        }
    }
}
