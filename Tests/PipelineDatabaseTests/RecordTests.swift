import GRDB
@testable import PipelineDatabase
import Testing
import TestSupport

/// One record type per table: each declares every column of its table, in the table's order,
/// and reads back what it wrote.
@Suite struct RecordTests {
    private static func columns<Record: TableRecord>(_: Record.Type, _ keys: some Sequence<some CodingKey>) -> (String, [String]) {
        (Record.databaseTableName, keys.map(\.stringValue))
    }

    @Test func everyTableHasItsRecordWithEveryColumnInOrder() throws {
        let dir = TemporaryDirectory()
        let pool = try PipelineDatabase.openWriter(path: dir.file("data.db"))
        defer { try? pool.close() }
        let records = [
            Self.columns(EtlRun.self, EtlRun.CodingKeys.allCases), Self.columns(EtlRunEvent.self, EtlRunEvent.CodingKeys.allCases),
            Self.columns(RawUser.self, RawUser.CodingKeys.allCases), Self.columns(User.self, User.CodingKeys.allCases),
            Self.columns(DLQRecord.self, DLQRecord.CodingKeys.allCases),
        ]
        try pool.read { db in
            let tables = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%' ORDER BY name")
            #expect(tables == records.map(\.0).sorted())
            for (table, keys) in records {
                #expect(try db.columns(in: table).map(\.name) == keys, "\(table)")
            }
        }
    }

    @Test func recordsReadBackWhatTheyWrote() throws {
        let dir = TemporaryDirectory()
        let pool = try PipelineDatabase.openWriter(path: dir.file("data.db"))
        defer { try? pool.close() }
        let run = EtlRun(
            runID: "20260101T000000Z-aaaa", status: "failed", failedPhase: "save", error: "boom", startedAt: "2026-01-01T00:00:00.000Z",
            finishedAt: "2026-01-01T00:00:01.000Z", durationMs: 1000, extracted: 3, valid: 2, invalid: 1, loaded: nil, unknownDepartment: 0,
            stagedFiles: #"[{"path":"a","rows":1,"bytes":2,"sha256":"x"}]"#, remoteFiles: "[]", updatedAt: "2026-01-01T00:00:01.000Z")
        let event = EtlRunEvent(runID: run.runID, at: run.startedAt, stage: "extract", event: "started")
        let raw = RawUser(runID: run.runID, line: 1, userID: nil, payload: "{}", insertedAt: run.updatedAt)
        let user = User(
            id: 7, runID: run.runID, fullName: "A B", email: "a@b.c", emailDomain: "b.c", age: 30, ageGroup: "25-34", department: "X",
            departmentCode: "UNKNOWN", bmi: 21.5, bmiCategory: "normal", birthDate: nil, recordHash: "h", payload: #"{"id":7}"#,
            insertedAt: run.updatedAt, updatedAt: run.updatedAt, lastSeenRunID: run.runID)
        let dead = DLQRecord(runID: run.runID, line: 2, reasons: "[]", payload: #""not json""#, insertedAt: run.updatedAt)
        try pool.write { db in
            try run.insert(db)
            try event.insert(db)
            try raw.insert(db)
            try user.insert(db)
            try dead.insert(db)
        }
        try pool.read { db in
            #expect(try EtlRun.fetchOne(db, key: run.runID) == run)
            #expect(try EtlRunEvent.fetchAll(db).map { $0.id != nil } == [true])
            var stored = event
            stored.id = try EtlRunEvent.fetchOne(db)?.id
            #expect(try EtlRunEvent.fetchOne(db) == stored)
            #expect(try RawUser.fetchAll(db) == [raw])
            #expect(try User.fetchOne(db, key: 7) == user)
            #expect(try DLQRecord.fetchAll(db) == [dead])
        }
    }
}
