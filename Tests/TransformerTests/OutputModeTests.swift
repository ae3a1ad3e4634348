import Foundation
import PipelineCore
import Testing
import TestSupport
import TransformerCore
import TransformerFixtures

/// The transformer's outputs hold masked but personal data: owner-only, like every staged file.
@Suite struct OutputModeTests {
    @Test func outputsAreOwnerOnlyInOwnerOnlyFolders() throws {
        let dir = TemporaryDirectory("transform-modes")
        let layout = StagingLayout(dataDirectory: dir.file("data"))
        let run = RunID()
        let paths = TransformPaths(raw: dir.file("raw.jsonl"), users: layout.chunkFile(run, 0, .users), dlq: layout.chunkFile(run, 0, .dlq),
                                   rawMasked: layout.chunkFile(run, 0, .rawMasked))
        try DummyUsers.writeFile(path: paths.raw, count: 50, seed: 1, badEvery: 7)
        let summary = try FileTransform(paths: paths, rules: TransformRun.rules, context: TransformRun.context, workers: 2,
                                        batchBytes: 4096, logger: quietLogger).run()
        #expect(summary.files.count == 3)
        for file in [paths.users, paths.dlq, paths.rawMasked] {
            #expect(octal(try permissionBits(file)) == "600", "\(file)")
        }
        for folder in [layout.dataDirectory, layout.runsDirectory, layout.runDirectory(run), layout.chunkDirectory(run, 0)] {
            #expect(octal(try permissionBits(folder)) == "700", "\(folder)")
        }
    }
}
