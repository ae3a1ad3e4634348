import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PipelineCore
import TestSupport
import Testing

@Suite struct StagingTests {
    @Test func writesThroughPartThenRenames() async throws {
        let dir = TemporaryDirectory()
        let path = dir.file("runs/r1/raw.jsonl")
        let writer = try StagedFileWriter(path: path)
        try writer.appendLine(#"{"id":1}"#)
        try writer.appendLine(Array(#"{"id":2}"#.utf8))
        try writer.checkpoint()
        #expect(FileManager.default.fileExists(atPath: path + ".part"))
        #expect(!FileManager.default.fileExists(atPath: path), "the final name appears only when complete")
        let staged = try writer.commit()
        #expect(!FileManager.default.fileExists(atPath: path + ".part"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"id\":1}\n{\"id\":2}\n")
        #expect(staged.rows == 2)
        #expect(staged.bytes == 18)
        #expect(staged.sha256 == (try await sha256sum(path)))
        #expect(try StagedFile.describe(path: path) == staged)
    }

    @Test func resumedWriterProducesTheSameFileAsAnUninterruptedOne() async throws {
        let dir = TemporaryDirectory()
        let lines = (1...5000).map { #"{"id":\#($0),"name":"user \#($0)"}"# }

        let whole = try StagedFileWriter(path: dir.file("whole.jsonl"), bufferSize: 4096)
        for line in lines { try whole.appendLine(line) }
        let expected = try whole.commit()

        // A process appends 3000 lines, checkpoints at 2000, then dies with unsynced data after it.
        let path = dir.file("resumed.jsonl")
        var first: StagedFileWriter? = try StagedFileWriter(path: path, bufferSize: 4096)
        for line in lines[0..<2000] { try first!.appendLine(line) }
        let offset = try first!.checkpoint()
        for line in lines[2000..<3000] { try first!.appendLine(line) }
        try first!.flush()
        first = nil

        let resumed = try StagedFileWriter.resume(path: path, at: offset, bufferSize: 4096)
        #expect(resumed.lineCount == 2000)
        #expect(resumed.byteCount == offset)
        for line in lines[2000...] { try resumed.appendLine(line) }
        let staged = try resumed.commit()
        #expect(staged.sha256 == expected.sha256)
        #expect(staged.rows == 5000)
        #expect(try await sha256sum(path) == (try await sha256sum(dir.file("whole.jsonl"))))
    }

    @Test func resumeFailsClearlyWhenThePartIsShorterThanTheCheckpoint() throws {
        let dir = TemporaryDirectory()
        let writer = try StagedFileWriter(path: dir.file("a.jsonl"))
        try writer.appendLine("x")
        try writer.checkpoint()
        let error = #expect(throws: StagingError.self) { try StagedFileWriter.resume(path: dir.file("a.jsonl"), at: 100) }
        #expect(error?.description.contains("fewer than the checkpoint's 100") == true)
        let missing = #expect(throws: StagingError.self) { try StagedFileWriter.resume(path: dir.file("none.jsonl"), at: 0) }
        #expect(missing == .missing(path: dir.file("none.jsonl.part")))
    }

    @Test func abandonRemovesThePart() throws {
        let dir = TemporaryDirectory()
        let writer = try StagedFileWriter(path: dir.file("a.jsonl"))
        try writer.appendLine("x")
        writer.abandon()
        #expect(!FileManager.default.fileExists(atPath: dir.file("a.jsonl.part")))
        #expect(!FileManager.default.fileExists(atPath: dir.file("a.jsonl")))
    }

    @Test func verifyDetectsChangedFiles() throws {
        let dir = TemporaryDirectory()
        let writer = try StagedFileWriter(path: dir.file("a.jsonl"))
        try writer.appendLine("one")
        let staged = try writer.commit()
        try staged.verify()
        try "one\ntwo\n".write(toFile: staged.path, atomically: false, encoding: .utf8)
        let error = #expect(throws: StagingError.self) { try staged.verify() }
        #expect(error?.description.contains("8 bytes, expected 4") == true)
    }

    @Test(arguments: [7, 64, 1 << 20])
    func readerSplitsLinesAcrossChunkBoundaries(chunkSize: Int) throws {
        let dir = TemporaryDirectory()
        let text = "first\n\n{\"a\":\"a much longer line than the chunk\"}\nlast-without-newline"
        try text.write(toFile: dir.file("x.jsonl"), atomically: false, encoding: .utf8)
        var reader = try JSONLReader(path: dir.file("x.jsonl"), chunkSize: chunkSize)
        var seen: [(Int, String)] = []
        try reader.forEachLine { number, line in seen.append((number, String(decoding: line, as: UTF8.self))) }
        #expect(seen.map(\.0) == [1, 2, 3, 4])
        #expect(seen.map(\.1) == ["first", "", #"{"a":"a much longer line than the chunk"}"#, "last-without-newline"])
    }

    /// Whether the long line spans chunks (64) or sits inside one (1 MiB), and ends with a newline or not.
    @Test(arguments: [(64, "\n"), (1 << 20, "\n"), (64, ""), (1 << 20, "")])
    func readerRejectsOverlongLines(chunkSize: Int, end: String) throws {
        let dir = TemporaryDirectory()
        try ("ok\n" + String(repeating: "x", count: 300) + end).write(toFile: dir.file("x.jsonl"), atomically: false, encoding: .utf8)
        var reader = try JSONLReader(path: dir.file("x.jsonl"), chunkSize: chunkSize, maxLineLength: 100)
        var count = 0
        let error = #expect(throws: StagingError.self) { try reader.forEachLine { _, _ in count += 1 } }
        #expect(error == .lineTooLong(path: dir.file("x.jsonl"), line: 2, limit: 100))
        #expect(count == 1)
    }

    @Test func stagedFilesAndTheFoldersMadeForThemAreOwnerOnly() throws {
        let dir = TemporaryDirectory()
        let layout = StagingLayout(dataDirectory: dir.file("data"))
        let run = RunID()
        let writer = try StagedFileWriter(path: layout.rawFile(run))
        try writer.appendLine("{}")
        #expect(octal(try permissionBits(writer.partPath)) == "600", "the .part holds the same secrets")
        _ = try writer.commit()
        #expect(octal(try permissionBits(layout.rawFile(run))) == "600")
        for folder in [layout.dataDirectory, layout.runsDirectory, layout.runDirectory(run)] {
            #expect(octal(try permissionBits(folder)) == "700", "\(folder)")
        }
    }

    @Test func aPartLeftWorldReadableBecomesOwnerOnlyWhenReusedOrResumed() throws {
        let dir = TemporaryDirectory()
        for resume in [false, true] {
            let path = dir.file("old-\(resume).jsonl")
            try "x\n".write(toFile: path + ".part", atomically: false, encoding: .utf8)
            #expect(chmod(path + ".part", 0o644) == 0)
            let writer = resume ? try StagedFileWriter.resume(path: path, at: 2) : try StagedFileWriter(path: path)
            #expect(octal(try permissionBits(path + ".part")) == "600", "resume: \(resume)")
            _ = try writer.commit()
            #expect(octal(try permissionBits(path)) == "600", "resume: \(resume)")
        }
    }

    @Test func existingFoldersKeepTheirModeAndAFileInThePathIsAnError() throws {
        let dir = TemporaryDirectory()
        #expect(chmod(dir.path, 0o755) == 0)
        _ = try StagedFileWriter(path: dir.file("runs/r/raw.jsonl")).commit()
        #expect(octal(try permissionBits(dir.path)) == "755", "DATA_DIR may be a volume someone else set up")
        #expect(octal(try permissionBits(dir.file("runs"))) == "700")
        try "".write(toFile: dir.file("file"), atomically: false, encoding: .utf8)
        #expect(throws: StagingError.self) { try StagedFileWriter(path: dir.file("file/raw.jsonl")) }
    }

    @Test func layoutNamesEveryStagedFile() throws {
        let run = try #require(RunID(parsing: "20261122T101500Z-3f9a"))
        let layout = StagingLayout(dataDirectory: "/data")
        #expect(layout.rawFile(run) == "/data/runs/20261122T101500Z-3f9a/raw.jsonl")
        #expect(layout.usersFile(run) == "/data/runs/20261122T101500Z-3f9a/users.jsonl")
        #expect(layout.dlqFile(run) == "/data/runs/20261122T101500Z-3f9a/dlq.jsonl")
        #expect(layout.rawMaskedFile(run) == "/data/runs/20261122T101500Z-3f9a/raw.masked.jsonl")
    }
}
