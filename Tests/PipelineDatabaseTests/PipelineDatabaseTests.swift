import Foundation
import Synchronization
import GRDB
import PipelineDatabase
import Testing
import TestSupport

@Suite struct PipelineDatabaseTests {
    /// Replicas of the saver start together and each migrates the file: none may fail because
    /// another created the tables first (the end-to-end replica scenario found this race).
    @Test func writersOpeningANewFileTogetherAllSucceed() throws {
        for round in 0..<20 {
            let directory = TemporaryDirectory("db-race")
            let path = directory.file("database/data.db")
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { index in
                do {
                    // As the saver opens it: half of them create the file with its page size first.
                    if index.isMultiple(of: 2) { try PipelineDatabase.createIfMissing(path: path) }
                    let pool = try PipelineDatabase.openWriter(path: path)
                    try pool.close()
                } catch {
                    failures.withLock { $0.append("round \(round): \(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty)
            let pool = try PipelineDatabase.openReader(path: path)
            #expect(try pool.read { try DatabaseSchema.migrator.hasCompletedMigrations($0) })
            try pool.close()
        }
    }

    @Test func writerCreatesEveryTableInWALMode() throws {
        let dir = TemporaryDirectory()
        let pool = try PipelineDatabase.openWriter(path: dir.file("database/data.db"))
        try pool.read { (db: Database) throws in
            for table in ["etl_runs", "raw_users", "users", "dlq_records", "etl_run_events"] {
                #expect(try db.tableExists(table), "\(table) exists")
            }
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            #expect(try DatabaseSchema.isUpToDate(db))
        }
        // Migrating again is a no-op.
        _ = try PipelineDatabase.openWriter(path: dir.file("database/data.db"))
    }

    @Test func readerOpensAfterTheWriterClosedAndCannotWrite() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("data.db")
        do {
            let writer = try PipelineDatabase.openWriter(path: path)
            try writer.write { db in
                try db.execute(sql: "INSERT INTO etl_runs (run_id, status, started_at, updated_at) VALUES ('r', 'completed', 't', 't')")
            }
        }
        #expect(FileManager.default.fileExists(atPath: path + "-wal"), "the WAL file persists for readers")
        let reader = try PipelineDatabase.openReader(path: path)
        let count = try reader.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM etl_runs") }
        #expect(count == 1)
        let error = #expect(throws: DatabaseError.self) {
            try reader.write { try $0.execute(sql: "DELETE FROM etl_runs") }
        }
        #expect(error?.resultCode == .SQLITE_READONLY)
    }
}
