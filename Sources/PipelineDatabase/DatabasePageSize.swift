import Foundation
import GRDB
import GRDBSQLite

extension PipelineDatabase {
    /// The page size the saver creates its database with.
    ///
    /// Why 16 KiB rather than SQLite's 4 KiB: the WAL index (the `-shm` file, mapped into the
    /// writer's memory and counted in its RSS) holds an entry for every frame in the WAL, one
    /// frame per page written. A load of 1,000,000 users writes several GB of frames in one
    /// transaction per file, and with 4 KiB pages that mapping alone grew to 9 MiB; four times
    /// fewer, larger frames keep it a quarter of that. The rows are the same either way.
    public static let loadingPageSize: Int32 = 16_384

    /// Creates the database file at `path` with ``loadingPageSize`` pages and in WAL mode, when
    /// there is no file yet; an existing database keeps its page size. Call before
    /// ``openWriter(path:fileMode:)``, which then creates the tables in it. The file is created
    /// with `fileMode` before SQLite opens it, so it is never readable by others, not even empty.
    public static func createIfMissing(path: String, pageSize: Int32 = loadingPageSize, fileMode: DatabaseFileMode = .default) throws {
        guard !FileManager.default.fileExists(atPath: path), try fileMode.prepare(path: path) else { return }
        var db: OpaquePointer?
        defer { if let db { sqlite3_close_v2(db) } }
        var rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard rc == SQLITE_OK, let db else { throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: "cannot create \(path)") }
        sqlite3_busy_timeout(db, 10_000)
        // The page size sticks when the first page is written, which switching to WAL does.
        rc = sqlite3_exec(db, "PRAGMA page_size = \(pageSize); PRAGMA journal_mode = WAL", nil, nil, nil)
        // Busy: another replica is creating the same file this moment; its page size holds.
        guard rc == SQLITE_OK || rc == SQLITE_BUSY else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db)))
        }
    }
}
