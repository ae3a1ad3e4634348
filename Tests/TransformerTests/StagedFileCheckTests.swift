import Foundation
import PipelineCore
import Testing
import TestSupport
@testable import TransformerCore

/// The transformer's own check of raw.jsonl agrees with PipelineCore's `StagedFile`.
@Suite struct StagedFileCheckTests {
    @Test func countsNewlinesAtEveryOffset() {
        for length in 0..<40 {
            for newline in 0..<length {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                bytes[newline] = 0x0A
                if length > 3 { bytes[length - 1] = 0x0A }
                bytes[0] = 0x8A  // a high byte that is not a newline
                let expected = bytes.count { $0 == 0x0A }
                #expect(bytes.withUnsafeBytes { StagedFileCheck.countNewlines($0) } == expected, "length \(length), newline at \(newline)")
            }
        }
    }

    @Test func describesAFileLikeStagedFile() throws {
        let directory = TemporaryDirectory("check")
        let path = directory.file("raw.jsonl")
        var text = ""
        for i in 0..<200_000 { text += "{\"id\":\(i)}\n" }
        text += "no newline at the end"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let expected = try StagedFile.describe(path: path)
        #expect(try StagedFileCheck.describe(path: path) == expected)
        try StagedFileCheck.verify(expected)
        var wrong = expected
        wrong.sha256 = String(repeating: "0", count: 64)
        #expect(throws: StagingError.corrupt(path: path, reason: "SHA-256 \(expected.sha256), expected \(wrong.sha256)")) { try StagedFileCheck.verify(wrong) }
        wrong = expected
        wrong.rows += 1
        #expect(throws: StagingError.corrupt(path: path, reason: "\(expected.rows) rows, expected \(wrong.rows)")) { try StagedFileCheck.verify(wrong) }
        #expect(throws: StagingError.missing(path: path + ".gone")) { try StagedFileCheck.describe(path: path + ".gone") }
    }
}
