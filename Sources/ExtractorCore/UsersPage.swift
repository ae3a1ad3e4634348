import PipelineJSON

/// One page of `GET /users` as received: the envelope's numbers and where each user sits in the
/// body, so the extractor can stage every user byte for byte as the upstream sent it.
///
/// The envelope is `{"users":[…],"total":N,"skip":S,"limit":L}` (DummyJSON's `limit` is the
/// number of users returned). The body is read with the project's one strict parser
/// (``JSONTape``), so a page holds exactly what the transformer will accept: bytes that are not
/// UTF-8, numbers RFC 8259 forbids or anything else that is not JSON fail the page here, before
/// any of it is staged. Only the envelope, the users' spans and their top-level members are put
/// on the tape (for each user's `id`); values nested deeper are validated, not recorded.
public struct UsersPage: Sendable, Equatable {
    public var total: Int
    public var skip: Int
    public var limit: Int?
    /// Byte ranges of the elements of `users`, in order.
    public var users: [Range<Int>]
    /// Each user's id as the transformer reads it (``JSONTape/userID(of:in:)``), 0 for none.
    public var ids: [Int] = []

    /// Parses `body`, or throws ``EnvelopeError`` saying what is wrong with it.
    public static func parse(_ body: [UInt8]) throws(EnvelopeError) -> UsersPage {
        try body.withUnsafeBytes { bytes in Result { () throws(EnvelopeError) in try parse(bytes) } }.get()
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer) throws(EnvelopeError) -> UsersPage {
        var tape = JSONTape()
        do {
            try tape.parse(bytes, recordingDepth: 3)
        } catch {
            throw EnvelopeError("the body is not valid JSON: \(error)")
        }
        guard tape.root.kind == .object else { throw EnvelopeError("the body is not a JSON object") }
        func integer(_ name: StaticString) throws(EnvelopeError) -> Int? {
            guard let index = tape.member(name, of: 0, in: bytes) else { return nil }
            guard let value = tape.intValue(index, in: bytes) else {
                throw EnvelopeError("\"\(name)\" is not an integer that fits in 64 bits")
            }
            return value
        }
        guard let usersIndex = tape.member("users", of: 0, in: bytes) else { throw EnvelopeError("no \"users\" array") }
        guard tape.nodes[usersIndex].kind == .array else { throw EnvelopeError("\"users\" is not an array") }
        guard let total = try integer("total") else { throw EnvelopeError("no \"total\"") }
        guard let skip = try integer("skip") else { throw EnvelopeError("no \"skip\"") }
        let limit = try integer("limit")
        guard total >= 0, skip >= 0 else { throw EnvelopeError("negative total (\(total)) or skip (\(skip))") }
        var users: [Range<Int>] = []
        var ids: [Int] = []
        users.reserveCapacity(Int(tape.nodes[usersIndex].count))
        ids.reserveCapacity(Int(tape.nodes[usersIndex].count))
        var element = usersIndex + 1
        for _ in 0..<tape.nodes[usersIndex].count {
            let node = tape.nodes[element]
            users.append(Int(node.start)..<Int(node.end))
            ids.append(tape.userID(of: element, in: bytes))
            element = Int(node.next)
        }
        return UsersPage(total: total, skip: skip, limit: limit, users: users, ids: ids)
    }
}

/// Why a body is not the expected envelope.
public struct EnvelopeError: Error, Equatable, CustomStringConvertible {
    public var reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
