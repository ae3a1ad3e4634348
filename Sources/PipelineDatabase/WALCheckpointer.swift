import Dispatch
import GRDB
import GRDBSQLite
import Synchronization

/// Copies committed WAL frames into the database file on a connection and a thread of its own,
/// so a large load's commit does not also pay for the checkpoint.
///
/// Why: with SQLite's automatic checkpoint, the connection that commits a transaction of a few
/// hundred MB then copies all of it from the `-wal` file into the database and fsyncs both,
/// before the commit returns; on this machine that was as long as the inserts themselves. A
/// PASSIVE checkpoint on another connection does the same copy concurrently with the next
/// transaction (WAL allows one checkpointer beside the writer and readers) and never blocks
/// either. The writer that uses this turns its own automatic checkpoint off and commits with
/// `synchronous = FULL` (``PipelineDatabase/checkpointInBackground(_:)``), so a commit is
/// durable when it returns without waiting for any checkpoint.
///
/// Best effort by design: a checkpoint that fails or finds frames still needed by a reader
/// leaves them in the WAL for the next request (or for SQLite's checkpoint when the last
/// connection closes); nothing is lost either way.
public final class WALCheckpointer: Sendable {
    public let path: String
    private let queue = DispatchQueue(label: "PipelineDatabase.WALCheckpointer")
    private let pending = Atomic<Bool>(false)
    /// The checkpointer's own connection, opened on first use; only touched on ``queue``.
    private let connection = Mutex<OpaquePointer?>(nil)
    private let completed = Atomic<Int>(0)

    public init(path: String) {
        self.path = path
    }

    deinit {
        connection.withLock { db in
            if let db { sqlite3_close_v2(db) }
            db = nil
        }
    }

    /// Asks for a checkpoint soon. Requests made while one is waiting to start are merged.
    public func request() {
        guard !pending.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.async { [self] in
            pending.store(false, ordering: .releasing)
            if checkpoint(SQLITE_CHECKPOINT_PASSIVE) != nil { completed.add(1, ordering: .releasing) }
        }
    }

    /// Waits until every checkpoint requested so far has run; returns how many ran in all.
    @discardableResult
    public func waitForIdle() -> Int {
        queue.sync {}
        return completed.load(ordering: .acquiring)
    }

    /// Merges the whole WAL into the database file and empties it (a TRUNCATE checkpoint) on the
    /// checkpointer's thread, after every checkpoint requested so far, without waiting for it;
    /// `done` gets whether it got through and how long it took. ``waitForIdle()`` waits for it.
    ///
    /// Why: the background checkpoints are PASSIVE and the writer never checkpoints, so frames
    /// can stay in `-wal` indefinitely, and a copy of `data.db` without its WAL is then missing
    /// rows or malformed. Requested once a run is saved, it makes the main file self-contained.
    /// A reader still on an older snapshot holds the merge back: it is retried up to `attempts`
    /// times, each waiting up to the busy timeout (1 s) for readers to move on.
    public func requestMerge(attempts: Int = 5, done: @escaping @Sendable (_ merged: Bool, _ elapsed: Duration) -> Void) {
        queue.async { [self] in
            let clock = ContinuousClock()
            let started = clock.now
            let merged = merge(attempts: attempts)
            done(merged, started.duration(to: clock.now))
        }
    }

    /// Only on ``queue``.
    private func merge(attempts: Int) -> Bool {
        for _ in 0..<max(1, attempts) where checkpoint(SQLITE_CHECKPOINT_TRUNCATE) == 0 {
            completed.add(1, ordering: .releasing)
            return true
        }
        return false
    }

    /// A checkpoint of `mode` on the checkpointer's own connection (only on ``queue``): the WAL
    /// frames it left, or `nil` when it failed.
    private func checkpoint(_ mode: Int32) -> Int32? {
        connection.withLock { db in
            if db == nil { db = Self.open(path) }
            var walFrames: Int32 = 0
            var copied: Int32 = 0
            guard let db, sqlite3_wal_checkpoint_v2(db, nil, mode, &walFrames, &copied) == SQLITE_OK, walFrames >= 0 else { return nil }
            return walFrames
        }
    }

    /// A read-write connection that keeps the WAL when it closes, like the writer's (a
    /// read-only reader cannot open a WAL database whose `-wal`/`-shm` are gone).
    private static func open(_ path: String) -> OpaquePointer? {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let db else {
            if let db { sqlite3_close_v2(db) }
            return nil
        }
        sqlite3_busy_timeout(db, 1000)
        // A connection that has not read the database yet has not seen that it is in WAL mode,
        // and its checkpoints are silent no-ops: read the schema first.
        guard sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nil, nil, nil) == SQLITE_OK else {
            sqlite3_close_v2(db)
            return nil
        }
        var persist: Int32 = 1
        _ = sqlite3_file_control(db, nil, SQLITE_FCNTL_PERSIST_WAL, &persist)
        return db
    }
}

extension PipelineDatabase {
    /// Sets up a writer pool for loads checkpointed by a ``WALCheckpointer``: its automatic
    /// checkpoint is turned off and it commits with `synchronous = FULL` (the WAL is fsynced at
    /// every commit, so a commit is durable when it returns, as it was when the automatic
    /// checkpoint fsynced it). Without a checkpointer beside it, such a writer's WAL only grows.
    public static func checkpointInBackground(_ pool: DatabasePool) throws {
        // The pool's one writer connection lives as long as the pool, so this holds for every write.
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
        }
    }
}
