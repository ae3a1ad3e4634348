import Foundation
import PipelineCore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The two mid-run kills the crash scenarios share (2 and 14a, 3 and 14b): each leaves a run
/// half done by a SIGKILLed stage, for the test to restart that stage its own way.
extension Pipeline {
    /// With the API and the saver waiting, extracts a run, then starts a transformer named
    /// `transformer-killed` (with `environment`) and SIGKILLs it at its first write into one of
    /// the run's output `.part` files, before any output is complete.
    package func transformerKilledAtFirstWrite(environment: [String: String] = [:]) async throws -> (RunID, ChildProcess) {
        try await startAPI()
        try start(.saver)
        let extractor = try await extractOnce()
        #expect(extractor.exitStatus == 0, "\(extractor.tail())")
        let id = try await onlyRun()
        try await waitFor(id, [.extracted])

        // Chunk 0 is the first a transformer takes.
        let writes = try FileWrites(in: layout.chunkDirectory(id, 0)) { $0.hasSuffix(".part") }
        let killed = try start(.transformer, as: "transformer-killed", environment: environment)
        let pid = killed.pid
        let file = try await writes.firstWrite(within: .seconds(120)) { _ in kill(pid, SIGKILL) }
        #expect(file != nil, "the transformer never wrote an output file")
        #expect(await killed.waitForExit(timeout: .seconds(10)))
        #expect(try await record(id)?.status == .transforming)
        return (id, killed)
    }

    /// With the API and the transformer waiting, starts a saver named `saver-killed` (with
    /// `environment`) that the test hook holds right after its users transaction, extracts a
    /// run, and SIGKILLs the saver there: between its transactions.
    package func saverKilledAfterUsers(environment: [String: String] = [:]) async throws -> (RunID, ChildProcess) {
        try await startAPI()
        try start(.transformer)
        let killed = try start(.saver, as: "saver-killed", environment: environment.merging(["SAVER_TEST_PAUSE_AFTER": "users"]) { $1 })
        let extractor = try await extractOnce()
        #expect(extractor.exitStatus == 0, "\(extractor.tail())")
        let id = try await onlyRun()
        #expect(try await eventually(within: .seconds(120)) { !killed.lines(containing: "test hook: pausing after users").isEmpty },
                "\(killed.tail())")
        await killed.crash()
        // `saving` once every chunk is transformed; `transforming` if the saver was quicker.
        #expect([.transforming, .saving].contains(try await record(id)?.status))
        return (id, killed)
    }
}
