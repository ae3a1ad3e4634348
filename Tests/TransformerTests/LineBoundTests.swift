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
        let id = RunID()
        try FileManager.default.createDirectory(atPath: layout.runDirectory(id), withIntermediateDirectories: true)
        let long = #"{"id":2,"bio":""# + String(repeating: "x", count: 5000) + #""}"#
        try Data((#"{"id":1}"# + "\n" + long + "\n" + #"{"id":3}"# + "\n").utf8).write(to: URL(fileURLWithPath: layout.rawFile(id)))
        let staged = try StagedFile.describe(path: layout.rawFile(id))
        _ = try await ledger.startRun(id)
        try await ledger.completePhase(.extract, run: id, files: [staged], counts: ["extracted": staged.rows])

        var env = environment()
        env["MAX_USER_BYTES"] = "4096"
        let transformer = try start("bounded", env)
        defer { transformer.killNow() }
        #expect(try await eventually(within: .seconds(60)) { try await status(id) == .failed }, logs(transformer))
        let record = try #require(try await ledger.run(id))
        #expect(record.failedPhase == .transform)
        #expect(record.error == "raw.jsonl line 2 is longer than MAX_USER_BYTES (4096 bytes)")
        #expect(outputs(id).allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "no output for a refused run")
    }

    @Test func maxUserBytesDefaultsTo1MiBAndIsBounded() throws {
        #expect(try TransformerSettings(from: Environment([:])).maxUserBytes == 1 << 20)
        #expect(try TransformerSettings(from: Environment(["MAX_USER_BYTES": "4096"])).maxUserBytes == 4096)
        #expect(throws: ConfigurationError.self) { try TransformerSettings(from: Environment(["MAX_USER_BYTES": "0"])) }
    }
}
