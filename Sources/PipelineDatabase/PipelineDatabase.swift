import Foundation
import GRDB
import GRDBSQLite

/// Opens the pipeline's SQLite file: one writer (the saver) and any number of read-only readers (the API).
public enum PipelineDatabase {
    /// Opens (creating it and its folder if needed) and migrates the database for writing.
    ///
    /// WAL mode lets readers in other processes read while the saver commits. The `-wal` and
    /// `-shm` files are kept when the writer closes (`SQLITE_FCNTL_PERSIST_WAL`): without them a
    /// read-only reader cannot open a WAL database on its own. The file, its `-wal` and `-shm`
    /// get `fileMode` (``DatabaseFileMode``).
    public static func openWriter(path: String, fileMode: DatabaseFileMode = .default) throws -> DatabasePool {
        try fileMode.prepare(path: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            var persist: Int32 = 1
            _ = sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, &persist)
        }
        // Opening switches a new file to WAL, which needs the file to itself: a replica opening
        // it at the same moment gets SQLITE_BUSY at once (SQLite does not wait for that lock).
        for attempt in 1... {
            do {
                let pool = try DatabasePool(path: path, configuration: configuration)
                try migrate(pool)
                return pool
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && attempt < 5 {
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
            }
        }
        fatalError("unreachable: the last attempt returns or throws")
    }

    /// Runs the migrations, also when another process runs them at the same moment.
    ///
    /// Two savers started together (two replicas) both find the file unmigrated and both try
    /// to create the tables; the one that commits second fails ("table … already exists") and
    /// its transaction rolls back. Each migration commits together with its row in
    /// `grdb_migrations`, so looking again finds the other process's work complete.
    static func migrate(_ pool: DatabasePool) throws {
        let migrator = DatabaseSchema.migrator
        for attempt in 1... {
            do {
                try migrator.migrate(pool)
                return
            } catch {
                if try pool.read({ try migrator.hasCompletedMigrations($0) }) { return }
                guard attempt < 5 else { throw error }
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
            }
        }
    }

    /// Opens the database read-only; any write through it fails (SQLite error 8).
    public static func openReader(path: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        return try DatabasePool(path: path, configuration: configuration)
    }
}
