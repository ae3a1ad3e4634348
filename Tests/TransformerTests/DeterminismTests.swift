import Foundation
import PipelineCore
import Testing
import TestSupport
import TransformerCore
import TransformerFixtures

/// A transform is a function of its input, rules and context: redone, or split across threads
/// differently, it writes the same bytes.
@Suite struct DeterminismTests {
    func sums(_ run: TransformRun) async throws -> [String] {
        try await checksums([run.paths.users, run.paths.dlq, run.paths.rawMasked])
    }

    @Test func doingItTwiceGivesByteIdenticalFiles() async throws {
        let run = TransformRun()
        try DummyUsers.writeFile(path: run.paths.raw, count: 2000, seed: 3, badEvery: 13)
        let first = try run.transform(workers: 2)
        let before = try await sums(run)
        // A stale .part from an interrupted attempt is replaced, the final files by rename.
        try "garbage\n".write(toFile: run.paths.users + ".part", atomically: false, encoding: .utf8)
        let second = try run.transform(workers: 2)
        #expect(try await sums(run) == before)
        #expect(first.files == second.files)
        #expect(first.counts == second.counts)
        #expect(!FileManager.default.fileExists(atPath: run.paths.users + ".part"))
        // What the summary says is what is on disk.
        for file in second.files {
            #expect(try StagedFile.describe(path: file.path) == file)
            #expect(try await sha256sum(file.path) == file.sha256)
        }
    }

    @Test func threadsAndBatchSizesDoNotChangeTheOutput() async throws {
        let a = TransformRun()
        try DummyUsers.writeFile(path: a.paths.raw, count: 1500, seed: 9, badEvery: 11)
        let sequential = try a.transform(workers: 1, batchBytes: 1 << 20)
        let expected = try await sums(a)
        for (workers, batch) in [(2, 1), (3, 2048), (4, 64 << 10)] {
            let b = TransformRun()
            try FileManager.default.copyItem(atPath: a.paths.raw, toPath: b.paths.raw)
            let summary = try b.transform(workers: workers, batchBytes: batch)
            #expect(try await sums(b) == expected, "workers \(workers), batch \(batch) bytes")
            #expect(summary.counts == sequential.counts)
        }
        #expect(sequential.rows == 1500)
        #expect(sequential.files.map(\.rows) == [sequential.valid, sequential.invalid, 1500])
    }

    @Test func aCancelledTransformLeavesNoFiles() throws {
        let run = TransformRun()
        try DummyUsers.writeFile(path: run.paths.raw, count: 100)
        let flag = CancellationFlag()
        flag.cancel()
        #expect(throws: CancellationError.self) {
            try FileTransform(paths: run.paths, rules: TransformRun.rules, context: TransformRun.context, logger: quietLogger)
                .run(cancellation: flag)
        }
        for path in [run.paths.users, run.paths.dlq, run.paths.rawMasked] {
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(!FileManager.default.fileExists(atPath: path + ".part"))
        }
    }
}
