import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import PipelineDatabase
import Testing
import TestSupport

/// The database holds every user's data: never readable by others (`DB_FILE_MODE`).
@Suite struct DatabaseFileModeTests {
    /// Writes a row so the `-wal` and `-shm` exist, then returns the modes of the three files.
    private func modes(of path: String, writingTo pool: DatabasePool) throws -> [String] {
        try pool.write { try $0.execute(sql: "INSERT INTO etl_runs (run_id, status, started_at, updated_at) VALUES ('r', 'completed', 't', 't')") }
        return try [path, path + "-wal", path + "-shm"].map { octal(try permissionBits($0)) }
    }

    @Test(arguments: [(DatabaseFileMode.ownerOnly, "600", "700"), (.groupReadable, "640", "750")])
    func theSaverCreatesTheFileItsWALAndSHMWithTheMode(mode: DatabaseFileMode, file: String, folder: String) throws {
        for createFirst in [false, true] {
            let dir = TemporaryDirectory()
            let path = dir.file("database/data.db")
            // As Saver.openDatabase opens it (page size first), and as openWriter alone does.
            if createFirst { try PipelineDatabase.createIfMissing(path: path, fileMode: mode) }
            let pool = try PipelineDatabase.openWriter(path: path, fileMode: mode)
            #expect(try modes(of: path, writingTo: pool) == [file, file, file], "created first: \(createFirst)")
            #expect(octal(try permissionBits(dir.file("database"))) == folder)
            try pool.close()
        }
    }

    @Test func theDefaultIsOwnerOnly() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("data.db")
        let pool = try PipelineDatabase.openWriter(path: path)
        #expect(try modes(of: path, writingTo: pool) == ["600", "600", "600"])
        try pool.close()
    }

    @Test func anExistingWorldReadableDatabaseIsTightenedWhenOpened() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("data.db")
        do {
            let pool = try DatabasePool(path: path)  // as an older saver made it: 0644 under umask 022
            try pool.write { try $0.execute(sql: "CREATE TABLE t (x)") }
            try pool.close()
        }
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            #expect(chmod(file, 0o644) == 0)
        }
        let pool = try PipelineDatabase.openWriter(path: path)
        #expect(try modes(of: path, writingTo: pool) == ["600", "600", "600"])
        try pool.close()
        // The API's read-only reader still opens it (same user).
        let reader = try PipelineDatabase.openReader(path: path)
        #expect(try reader.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM etl_runs") } == 1)
    }
}
