import Foundation
import PipelineCore
import PipelineRedis
import Testing
import TestSupport
import TransformerCore

/// `MAX_USER_BYTES` bounds the longest `raw.jsonl` line the transformer reads (docs/RELIABILITY.md,
/// "Hostile input"): a longer one fails the run saying so, instead of taking unbounded memory.
extension TransformerProcessTests {
    @Test func aRawLineLongerThanMaxUserBytesFailsTheRunSayingSo() async throws {
        // Two chunks of two lines; the long line is the first of chunk 1, line 3 of the run.
        let long = #"{"id":3,"bio":""# + String(repeating: "x", count: 5000) + #""}"#
        let run = ChunkedRun(lines: [#"{"id":1}"#, #"{"id":2}"#, long, #"{"id":4}"#].map { Array($0.utf8) }, chunkUsers: 2)
        try await run.stage(layout: layout, ledger: ledger)

        var env = environment()
        env["MAX_USER_BYTES"] = "4096"
        let transformer = try start("bounded", env)
        defer { transformer.killNow() }
        #expect(try await eventually(within: .seconds(60)) { try await status(run.id) == .failed }, logs(transformer))
        let record = try #require(try await ledger.run(run.id))
        #expect(record.failedPhase == .transform)
        #expect(record.error == "chunk 1 (lines 3-4): raw.jsonl line 3 is longer than MAX_USER_BYTES (4096 bytes)")
        #expect(outputs(run, chunk: 1).allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "no output for a refused chunk")
    }

    @Test func maxUserBytesDefaultsTo1MiBAndIsBounded() throws {
        #expect(try TransformerSettings(from: SettingsReader([:])).maxUserBytes == 1 << 20)
        #expect(try TransformerSettings(from: SettingsReader(["MAX_USER_BYTES": "4096"])).maxUserBytes == 4096)
        #expect(throws: ConfigurationError.self) { try TransformerSettings(from: SettingsReader(["MAX_USER_BYTES": "0"])) }
    }
}
