import GRDB
import Synchronization

/// `X-Total-Count` without counting again while nothing changed. Counting a department's 7,600
/// users costs about 0.4 ms and all 100,000 about 1.1 ms, more than the rest of a page of 50.
///
/// A count is remembered per reader connection, with that connection's `PRAGMA data_version`
/// as it was read in the same transaction: SQLite changes that number whenever another
/// connection (the saver) committed, so a remembered count is used only inside a snapshot of
/// the very state it was counted in. One cache belongs to one ``LazyReader`` and so to one
/// pool, whose connections live as long as it does; the connection's identity is never reused
/// for another database. At most ``capacity`` counts are kept (filters take values from
/// clients); past that the cache starts over.
public final class CountCache: Sendable {
    /// The cache of the reader whose transaction is running (set by ``LazyReader/read(_:)``).
    @TaskLocal static var current: CountCache?

    static let capacity = 1024

    private struct Key: Hashable {
        var connection: ObjectIdentifier
        var sql: String
        var arguments: [String]
    }

    private struct Entry {
        var version: Int
        var count: Int
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var hits = 0
        var misses = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// How many counts were answered from the cache and how many were run.
    public var statistics: (hits: Int, misses: Int) {
        state.withLock { ($0.hits, $0.misses) }
    }

    func count(_ db: Database, sql: String, arguments: [String]) throws -> Int {
        let version = try Int.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0
        let key = Key(connection: ObjectIdentifier(db), sql: sql, arguments: arguments)
        let known: Int? = state.withLock { state in
            guard let entry = state.entries[key], entry.version == version else { return nil }
            state.hits += 1
            return entry.count
        }
        if let known { return known }
        let count = try Self.countNow(db, sql: sql, arguments: arguments)
        state.withLock { state in
            state.misses += 1
            if state.entries.count >= Self.capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[key] = Entry(version: version, count: count)
        }
        return count
    }

    static func countNow(_ db: Database, sql: String, arguments: [String]) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: sql), arguments: StatementArguments(arguments)) ?? 0
    }
}
