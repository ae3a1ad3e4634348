import Foundation
import GRDB
import PipelineDatabase
import Testing
import TestSupport

/// The saver's loading helpers: lines bound straight from a buffer store the same values as
/// lines bound as Swift strings through GRDB, and the background checkpointer moves a
/// writer's committed WAL frames into the database file.
@Suite struct LoadingTests {
    @Test func aLineBoundFromItsBytesStoresWhatGRDBWouldHaveStored() throws {
        let dir = TemporaryDirectory()
        let pool = try PipelineDatabase.openWriter(path: dir.file("data.db"))
        let lines: [[UInt8]] = [
            Array(#"{"id":1,"name":"plain"}"#.utf8),
            Array("{\"name\":\"Zoë ✓\"}".utf8),  // non-ASCII, valid UTF-8
            [0x7B, 0xFF, 0xFE, 0x7D],  // invalid UTF-8
            [0x61, 0x00, 0x62],  // a NUL byte: GRDB binds up to it
            [],  // an empty line is empty text, not NULL
            Array(repeating: 0x78, count: 13),  // longer than one 8-byte word, not a multiple of it
        ]
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE direct (n INTEGER, tag TEXT, line)")
            try db.execute(sql: "CREATE TABLE viaGRDB (n INTEGER, tag TEXT, line)")
            let statement = try LineInsertStatement(
                db, sql: "INSERT INTO direct (line, tag, n) VALUES (?1, ?2, ?3)", constants: [2: "t"], lineNumberIndex: 3)
            for (index, line) in lines.enumerated() {
                try line.withUnsafeBytes { try statement.execute(line: $0, number: index + 1) }
                try db.execute(sql: "INSERT INTO viaGRDB (line, tag, n) VALUES (?, ?, ?)",
                               arguments: [String(decoding: line, as: UTF8.self), "t", index + 1])
            }
        }
        func rows(_ table: String) throws -> [Row] {
            try pool.read { try Row.fetchAll($0, sql: "SELECT n, tag, typeof(line), hex(line) FROM \(table) ORDER BY n") }
        }
        let direct = try rows("direct")
        let viaGRDB = try rows("viaGRDB")
        #expect(direct.count == lines.count)
        #expect(direct == viaGRDB)
    }

    @Test func aRefusedLineThrowsGRDBsErrorAndTheNextLineStillWorks() throws {
        let dir = TemporaryDirectory()
        let pool = try PipelineDatabase.openWriter(path: dir.file("data.db"))
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, line TEXT)")
            let statement = try LineInsertStatement(
                db, sql: "INSERT INTO t (id, line) VALUES (json_extract(?1, '$.id'), ?1)", constants: [:], lineNumberIndex: nil)
            try Array(#"{"id":1}"#.utf8).withUnsafeBytes { try statement.execute(line: $0, number: 1) }
            let error = #expect(throws: DatabaseError.self) {
                try Array(#"{"id":1}"#.utf8).withUnsafeBytes { try statement.execute(line: $0, number: 2) }
            }
            #expect(error?.resultCode == .SQLITE_CONSTRAINT)
            try Array(#"{"id":2}"#.utf8).withUnsafeBytes { try statement.execute(line: $0, number: 3) }
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM t") == 2)
        }
    }

    @Test func theCheckpointerCopiesCommittedFramesIntoTheDatabaseFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("data.db")
        let pool = try PipelineDatabase.openWriter(path: path)
        try PipelineDatabase.checkpointInBackground(pool)
        let before = try size(path)
        try pool.write { db in
            try db.execute(sql: "CREATE TABLE t (x TEXT)")
            for i in 0..<2000 { try db.execute(sql: "INSERT INTO t VALUES (?)", arguments: [String(repeating: "x", count: 500) + "\(i)"]) }
        }
        #expect(try size(path) == before, "the writer no longer checkpoints by itself")
        let checkpointer = WALCheckpointer(path: path)
        checkpointer.request()
        #expect(checkpointer.waitForIdle() == 1)
        #expect(try size(path) > before + 1_000_000, "the rows are in the database file")
        #expect(try pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM t") } == 2000)
    }

    @Test func aNewLoadingDatabaseHasLargePagesAndAnExistingOneKeepsItsOwn() throws {
        let dir = TemporaryDirectory()
        let fresh = dir.file("new/database/data.db")
        try PipelineDatabase.createIfMissing(path: fresh)
        let pool = try PipelineDatabase.openWriter(path: fresh)
        let (pageSize, journalMode, hasTables) = try pool.read { (db: Database) throws in
            (try Int.fetchOne(db, sql: "PRAGMA page_size"), try String.fetchOne(db, sql: "PRAGMA journal_mode"),
             try db.tableExists("raw_users"))
        }
        #expect(pageSize == Int(PipelineDatabase.loadingPageSize))
        #expect(journalMode == "wal")
        #expect(hasTables)

        let existing = dir.file("old.db")
        _ = try PipelineDatabase.openWriter(path: existing)
        try PipelineDatabase.createIfMissing(path: existing)
        let reopened = try PipelineDatabase.openWriter(path: existing)
        let oldPageSize = try reopened.read { (db: Database) throws in try Int.fetchOne(db, sql: "PRAGMA page_size") }
        #expect(oldPageSize == 4096)
    }

    private func size(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }
}
