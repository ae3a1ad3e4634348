import PipelineCore
import PipelineJSON

/// Which lines of a run repeat an earlier line's `id`: the one validation rule that needs every
/// row before a row, decided here because the extractor is the one stage that sees the run in
/// order. Each sealed chunk carries its repeats (``SealedChunk/repeats``), so the transformer
/// can take chunks in any order, on any replica, and still send exactly the later lines of a
/// repeated id to the dead-letter queue.
///
/// A resumed run replays the ids of the lines it staged before (``replay(_:)``), so the answer
/// does not depend on where the extraction was interrupted.
public struct RepeatedIDs {
    private var seen = IDSet()

    public init() {}

    /// The repeats of a whole run staged as one file whose first line is line 1 (a benchmark
    /// staging a run as one chunk).
    public static func inFile(_ path: String, maxLineBytes: Int = defaultMaxUserBytes) throws -> [RepeatedID] {
        var ids = RepeatedIDs()
        return try ids.replay(path, firstLine: 1, maxLineBytes: maxLineBytes)
    }

    /// Notes the id of a line; returns whether an earlier line of the run had it. Ids that are
    /// not positive integers (0 here) are never repeats, as the transformer rejects them anyway.
    mutating func note(_ id: Int) -> Bool {
        id > 0 && !seen.insert(id)
    }

    /// Notes the ids of the lines of a staged file whose first line is the run's line
    /// `firstLine`; returns the lines among them that repeat an earlier id.
    mutating func replay(_ path: String, firstLine: Int, maxLineBytes: Int) throws -> [RepeatedID] {
        var reader = try JSONLReader(path: path, maxLineLength: maxLineBytes)
        var tape = JSONTape()
        var found: [RepeatedID] = []
        try reader.forEachLine { number, line in
            let id = (try? tape.parse(line, recordingDepth: 1)) == nil ? 0 : tape.userID(of: 0, in: line)
            if note(id) { found.append(RepeatedID(line: firstLine + number - 1, id: id)) }
        }
        return found
    }
}

extension JSONTape {
    /// The id of the user object at `node` as the transformer's rules read it: the last
    /// top-level `id` member, when it is an integer above 0 that fits in 64 bits; else 0. The
    /// object's members must be on the tape (a recording depth one below the object's).
    func userID(of node: Int, in bytes: UnsafeRawBufferPointer) -> Int {
        guard nodes[node].kind == .object, let value = member("id", of: node, in: bytes),
              let id = intValue(value, in: bytes), id > 0 else { return 0 }
        return id
    }
}

/// The ids seen so far in a run: a bitmap for ids below 2^26 (8 MiB at most, 125 KiB for a
/// million dense ids), a hash set above.
struct IDSet {
    private var bits: [UInt64] = []
    private var large: Set<Int> = []
    static let bitmapLimit = 1 << 26

    /// Adds `id` (> 0); returns `false` when it was already there.
    mutating func insert(_ id: Int) -> Bool {
        guard id < Self.bitmapLimit else { return large.insert(id).inserted }
        let word = id >> 6
        if word >= bits.count {
            let grown = min(max(word + 1, bits.count * 2, 1024), Self.bitmapLimit >> 6)
            bits.append(contentsOf: repeatElement(0, count: grown - bits.count))
        }
        let mask: UInt64 = 1 << UInt64(id & 63)
        if bits[word] & mask != 0 { return false }
        bits[word] |= mask
        return true
    }
}
