import Dispatch
import Foundation
import GRDB
import PipelineDatabase
import Synchronization

/// The database at `DB_PATH`, opened read-only the first time a request needs it.
///
/// The API starts before the saver has written anything: until the file exists and carries the
/// saver's schema, every attempt reports ``DatabaseNotReady`` (the data endpoints answer 503,
/// `/health` says `not_ready`) and the next request tries again. It never creates the file:
/// a read-only open of a missing file fails, and the file's existence is checked first anyway.
///
/// Opening touches the file system and can wait on SQLite's busy handler, so it runs on a
/// dispatch queue of its own, never on the cooperative pool; reads use GRDB's async `read`,
/// which runs on GRDB's reader queues.
public final class LazyReader: Sendable {
    public let path: String
    private let state = Mutex<State>(State())
    private let openQueue = DispatchQueue(label: "api.database.open")

    private struct State {
        var pool: DatabasePool?
        /// Set once the schema was seen complete: migrations only ever add, so it stays true.
        var schemaReady = false
    }

    public init(path: String) {
        self.path = path
    }

    /// A pool on an up-to-date database, or ``DatabaseNotReady`` saying why not yet.
    public func pool() async throws -> DatabasePool {
        let current = state.withLock { ($0.pool, $0.schemaReady) }
        if let pool = current.0, current.1 { return pool }
        let pool: DatabasePool
        if let opened = current.0 {
            pool = opened
        } else {
            pool = try await open()
        }
        let upToDate: Bool
        do {
            upToDate = try await pool.read { db in try DatabaseSchema.isUpToDate(db) }
        } catch {
            throw DatabaseNotReady(reason: "the database cannot be read yet: \(Self.describe(error))")
        }
        guard upToDate else {
            throw DatabaseNotReady(reason: "the database exists but the saver has not created its tables yet")
        }
        state.withLock { $0.schemaReady = true }
        return pool
    }

    /// Remembers `X-Total-Count`s of this pool's connections (``CountCache``).
    public let counts = CountCache()

    /// Runs `body` in a read-only transaction on GRDB's reader queues.
    public func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let pool = try await pool()
        let counts = counts
        return try await pool.read { db in try CountCache.$current.withValue(counts) { try body(db) } }
    }

    private func open() async throws -> DatabasePool {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<DatabasePool, any Error>) in
            openQueue.async { [self] in
                continuation.resume(with: Result {
                    if let pool = state.withLock({ $0.pool }) { return pool }
                    guard FileManager.default.fileExists(atPath: path) else {
                        throw DatabaseNotReady(reason: "the database file does not exist yet (the saver creates it with the first run)")
                    }
                    let pool: DatabasePool
                    do {
                        pool = try PipelineDatabase.openReader(path: path)
                    } catch {
                        throw DatabaseNotReady(reason: "the database cannot be opened yet: \(Self.describe(error))")
                    }
                    state.withLock { $0.pool = pool }
                    return pool
                })
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return error.message.map { "SQLite error \(error.resultCode.rawValue): \($0)" } ?? "SQLite error \(error.resultCode.rawValue)"
        }
        return "\(error)"
    }
}

/// The database cannot serve data yet; `reason` says why, in words for an operator.
public struct DatabaseNotReady: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
