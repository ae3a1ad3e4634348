import Foundation

/// The faults the fixture injects into `/users` requests. Set at start (flags or `FIXTURE_*`
/// variables) and changed at run time through `PUT`/`PATCH /_fixture/faults`.
///
/// "Request n" is the n-th `/users` or `/users/{id}` request since start or the last
/// `POST /_fixture/reset`, counting from 1, whatever its outcome. When several faults hit the
/// same request the first that applies wins: `down`, then `rateLimit`, then `failEvery`, then
/// `malformedRequests`, then `truncateRequests`. `delayMs` comes on top of any of them.
public struct FaultSettings: Sendable, Equatable {
    /// Every `failEvery`-th request answers 503 (0: off).
    public var failEvery: Int
    /// At most `rateLimit` requests per window of `rateWindowSeconds`; the others answer 429
    /// with `Retry-After: retryAfterSeconds` (0: off). Fixed windows, opened by the first request
    /// after the previous window ended; a refused request does not use up the window.
    public var rateLimit: Int
    public var rateWindowSeconds: Double
    public var retryAfterSeconds: Int
    /// Milliseconds added before every `/users` response.
    public var delayMs: Int
    /// These request numbers get a response cut off mid-body: the full `Content-Length`, half
    /// the bytes, then the connection is closed.
    public var truncateRequests: [Int]
    /// These request numbers get a complete 200 response whose body is the first half of the
    /// JSON text (invalid JSON).
    public var malformedRequests: [Int]
    /// After this many requests (so from request n+1 on) the data set has `totalChangeBy` more
    /// users: `total` grows and the new users can be paged to (nil: off).
    public var totalChangeAfter: Int?
    public var totalChangeBy: Int
    /// Every `/users` request answers 503 (an upstream outage).
    public var down: Bool
    /// Every page reports this `total` in its envelope, whatever the data set holds; the users
    /// served are still the real ones (nil: off). A hostile or broken upstream: `Int.max`, a
    /// total above the consumer's limit, a negative one.
    public var reportTotal: Int?
    /// A hostile upstream: planted secrets in unusual places, rows that are not objects, and
    /// log-injection text (``HostileKind``, ``HostileSecrets``); every page stays valid JSON.
    public var hostile: Bool
    /// These users (ids from 1) are served, whenever a page or `/users/{id}` holds them, with a
    /// planted secret followed by a byte that is not UTF-8: the body is not valid JSON.
    public var invalidUTF8Users: [Int]
    /// These users (ids) are served with a planted secret followed by `"balance":NaN`: the body
    /// is not valid JSON.
    public var nanUsers: [Int]

    public init(
        failEvery: Int = 0,
        rateLimit: Int = 0,
        rateWindowSeconds: Double = 10,
        retryAfterSeconds: Int = 10,
        delayMs: Int = 0,
        truncateRequests: [Int] = [],
        malformedRequests: [Int] = [],
        totalChangeAfter: Int? = nil,
        totalChangeBy: Int = 5,
        down: Bool = false,
        reportTotal: Int? = nil,
        hostile: Bool = false,
        invalidUTF8Users: [Int] = [],
        nanUsers: [Int] = []
    ) {
        self.failEvery = failEvery
        self.rateLimit = rateLimit
        self.rateWindowSeconds = rateWindowSeconds
        self.retryAfterSeconds = retryAfterSeconds
        self.delayMs = delayMs
        self.truncateRequests = truncateRequests
        self.malformedRequests = malformedRequests
        self.totalChangeAfter = totalChangeAfter
        self.totalChangeBy = totalChangeBy
        self.down = down
        self.reportTotal = reportTotal
        self.hostile = hostile
        self.invalidUTF8Users = invalidUTF8Users
        self.nanUsers = nanUsers
    }

    /// What the settings do to the users' content.
    public var content: ContentFaults {
        ContentFaults(hostile: hostile, invalidUTF8Users: invalidUTF8Users, nanUsers: nanUsers)
    }

    /// No fault at all.
    public static let none = FaultSettings()

    public func validate() throws {
        func nonNegative(_ name: String, _ value: Int) throws {
            if value < 0 { throw FixtureConfigurationError("\(name) must not be negative, got \(value)") }
        }
        try nonNegative("failEvery", failEvery)
        try nonNegative("rateLimit", rateLimit)
        try nonNegative("retryAfterSeconds", retryAfterSeconds)
        try nonNegative("delayMs", delayMs)
        try nonNegative("totalChangeBy", totalChangeBy)
        if let after = totalChangeAfter { try nonNegative("totalChangeAfter", after) }
        guard rateWindowSeconds.isFinite, rateWindowSeconds > 0 else {
            throw FixtureConfigurationError("rateWindowSeconds must be a positive number, got \(rateWindowSeconds)")
        }
        if let bad = truncateRequests.first(where: { $0 < 1 }) {
            throw FixtureConfigurationError("truncateRequests holds request numbers from 1, got \(bad)")
        }
        if let bad = malformedRequests.first(where: { $0 < 1 }) {
            throw FixtureConfigurationError("malformedRequests holds request numbers from 1, got \(bad)")
        }
        if let bad = invalidUTF8Users.first(where: { $0 < 1 }) {
            throw FixtureConfigurationError("invalidUTF8Users holds user ids from 1, got \(bad)")
        }
        if let bad = nanUsers.first(where: { $0 < 1 }) {
            throw FixtureConfigurationError("nanUsers holds user ids from 1, got \(bad)")
        }
    }

    /// The same settings with the keys of a JSON object replaced (a `PATCH`); unknown keys and
    /// values of the wrong type are errors. `"totalChangeAfter": null` and `"reportTotal": null`
    /// turn those faults off.
    public func applying(json: Data) throws -> FaultSettings {
        let decoder = JSONDecoder()
        decoder.userInfo[FaultSettings.baseKey] = self
        let settings: FaultSettings
        do {
            settings = try decoder.decode(FaultSettings.self, from: json)
        } catch let error as FixtureConfigurationError {
            throw error
        } catch {
            throw FixtureConfigurationError("invalid fault settings: \(FaultSettings.describe(error))")
        }
        try settings.validate()
        return settings
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "'\(path)': \(context.debugDescription)"
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription
        default:
            return "\(error)"
        }
    }
}

extension FaultSettings: Codable {
    enum CodingKeys: String, CodingKey, CaseIterable {
        case failEvery, rateLimit, rateWindowSeconds, retryAfterSeconds, delayMs
        case truncateRequests, malformedRequests, totalChangeAfter, totalChangeBy, down, reportTotal
        case hostile, invalidUTF8Users, nanUsers
    }

    /// The settings ``applying(json:)`` starts from, in a decoder's `userInfo`.
    static let baseKey = CodingUserInfoKey(rawValue: "FaultSettings.base")!

    /// The keys present replace those of the decoder's ``baseKey`` settings (default: none);
    /// unknown keys are errors, and `null` turns an optional fault off.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        let known = CodingKeys.allCases.map(\.stringValue)
        if let unknown = c.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw FixtureConfigurationError("unknown fault setting '\(unknown)' (known: \(known.joined(separator: ", ")))")
        }
        var s = decoder.userInfo[FaultSettings.baseKey] as? FaultSettings ?? FaultSettings()
        func set<T: Decodable>(_ path: WritableKeyPath<FaultSettings, T>, _ key: CodingKeys) throws {
            if let value = try c.decodeIfPresent(T.self, forKey: AnyKey(stringValue: key.stringValue)) { s[keyPath: path] = value }
        }
        func setOptional(_ path: WritableKeyPath<FaultSettings, Int?>, _ key: CodingKeys) throws {
            let key = AnyKey(stringValue: key.stringValue)
            if c.contains(key) { s[keyPath: path] = try c.decodeNil(forKey: key) ? nil : c.decode(Int.self, forKey: key) }
        }
        try set(\.failEvery, .failEvery)
        try set(\.rateLimit, .rateLimit)
        try set(\.rateWindowSeconds, .rateWindowSeconds)
        try set(\.retryAfterSeconds, .retryAfterSeconds)
        try set(\.delayMs, .delayMs)
        try set(\.truncateRequests, .truncateRequests)
        try set(\.malformedRequests, .malformedRequests)
        try setOptional(\.totalChangeAfter, .totalChangeAfter)
        try set(\.totalChangeBy, .totalChangeBy)
        try set(\.down, .down)
        try setOptional(\.reportTotal, .reportTotal)
        try set(\.hostile, .hostile)
        try set(\.invalidUTF8Users, .invalidUTF8Users)
        try set(\.nanUsers, .nanUsers)
        self = s
    }

    private struct AnyKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    /// Every key, `totalChangeAfter` and `reportTotal` as `null` when off (an `Optional`
    /// encoded as itself, not through `encodeIfPresent`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(failEvery, forKey: .failEvery)
        try c.encode(rateLimit, forKey: .rateLimit)
        try c.encode(rateWindowSeconds, forKey: .rateWindowSeconds)
        try c.encode(retryAfterSeconds, forKey: .retryAfterSeconds)
        try c.encode(delayMs, forKey: .delayMs)
        try c.encode(truncateRequests, forKey: .truncateRequests)
        try c.encode(malformedRequests, forKey: .malformedRequests)
        try c.encode(totalChangeAfter, forKey: .totalChangeAfter)  // null when off
        try c.encode(totalChangeBy, forKey: .totalChangeBy)
        try c.encode(down, forKey: .down)
        try c.encode(reportTotal, forKey: .reportTotal)  // null when off
        try c.encode(hostile, forKey: .hostile)
        try c.encode(invalidUTF8Users, forKey: .invalidUTF8Users)
        try c.encode(nanUsers, forKey: .nanUsers)
    }
}
