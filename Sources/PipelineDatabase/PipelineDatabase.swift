import Foundation
import GRDB
import GRDBSQLite

/// Opens the pipeline's SQLite file: one writer (the saver) and any number of read-only readers (the API).
public enum PipelineDatabase {
    /// Opens (creating it and its folder if needed) and migrates the database for writing.
    ///
    /// WAL mode lets readers in other processes read while the saver commits. The `-wal` and
    /// `-shm` files are kept when the writer closes (`SQLITE_FCNTL_PERSIST_WAL`): without them a
    /// read-only reader cannot open a WAL database on its own.
    public static func openWriter(path: String) throws -> DatabasePool {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            var persist: Int32 = 1
            _ = sqlite3_file_control(db.sqliteConnection, nil, SQLITE_FCNTL_PERSIST_WAL, &persist)
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        try DatabaseSchema.migrator.migrate(pool)
        return pool
    }

    /// Opens the database read-only; any write through it fails (SQLite error 8).
    public static func openReader(path: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        return try DatabasePool(path: path, configuration: configuration)
    }
}
