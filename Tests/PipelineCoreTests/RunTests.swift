import Foundation
import Logging
import PipelineCore
import Testing

@Suite struct RunTests {
    @Test func runIDsReadWellAndSortByTime() throws {
        let early = RunID(startingAt: Date(timeIntervalSince1970: 1_795_000_000))
        let late = RunID(startingAt: Date(timeIntervalSince1970: 1_795_000_001))
        #expect(early.rawValue.count == 21)
        #expect(early.rawValue.hasPrefix("20261118T110640Z-"))
        #expect(early < late)
        #expect(RunID(parsing: early.rawValue) == early)
        #expect(early.startedAt == Date(timeIntervalSince1970: 1_795_000_000))
    }

    @Test(arguments: ["", "../../etc/passwd", "20261122T101500Z-3F9A", "20261122T101500Z-3f9", "20261322T101500Z-3f9a", "20261122X101500Z-3f9a"])
    func rejectsAnythingButTheExactForm(text: String) {
        #expect(RunID(parsing: text) == nil)
    }

    @Test func recordSurvivesTheHashRoundTrip() throws {
        let id = try #require(RunID(parsing: "20261122T101500Z-3f9a"))
        var record = RunRecord(id: id, status: .transformed, startedAt: Date(timeIntervalSince1970: 1_795_000_000.25))
        record.phaseStartedAt[.extract] = Date(timeIntervalSince1970: 1_795_000_000.5)
        record.phaseFinishedAt[.extract] = Date(timeIntervalSince1970: 1_795_000_001)
        record.files[.extract] = [StagedFile(path: "runs/x/raw.jsonl", rows: 208, bytes: 1000, sha256: String(repeating: "a", count: 64))]
        record.counts[.transform] = ["valid": 200, "invalid": 8]
        record.checkpoint = .init(skip: 100, offset: 5000, total: 208)
        let fields = record.fields
        #expect(fields["status"] == "transformed")
        #expect(fields["extract_files"]?.contains("\"rows\":208") == true)
        #expect(RunRecord(fields: fields) == record)
        #expect(record.hasCompleted(.extract))
        #expect(record.hasCompleted(.transform))
        #expect(!record.hasCompleted(.save))
    }

    @Test func signalPayloadCarriesTheContract() throws {
        let id = try #require(RunID(parsing: "20261122T101500Z-3f9a"))
        let signal = PhaseSignal(runID: id, phase: .extract, status: .extracted, at: Date(timeIntervalSince1970: 1_795_000_000),
                                 files: [StagedFile(path: "runs/x/raw.jsonl", rows: 3, bytes: 30, sha256: "ab")], counts: ["extracted": 3])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(signal.json.utf8)) as? [String: Any])
        #expect(object["run_id"] as? String == id.rawValue)
        #expect(object["phase"] as? String == "extract")
        #expect(object["at"] as? String == "2026-11-18T11:06:40.000Z")
        let file = try #require((object["files"] as? [[String: Any]])?.first)
        #expect(file["rows"] as? Int == 3)
        #expect(file["sha256"] as? String == "ab")
        #expect(try PhaseSignal.decode(Array(signal.json.utf8)) == signal)
    }

    @Test func logLinesCarryStageAndRunID() throws {
        let text = logged("extractor", level: .info, format: .text) { logger in
            logger[metadataKey: "run_id"] = "20261122T101500Z-3f9a"
            logger.info("page 1/3", metadata: ["rows": "100", "note": "two words"])
            logger.debug("hidden")
        }
        let json = logged("saver", level: .info, format: .json) { logger in
            logger[metadataKey: "run_id"] = "20261122T101500Z-3f9a"
            logger.warning("retrying", metadata: ["attempt": .stringConvertible(2)])
        }
        let all = text + json
        #expect(all.count == 2)
        #expect(all[0].contains("INFO  [extractor] run=20261122T101500Z-3f9a page 1/3 note=\"two words\" rows=100"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(all[1].utf8)) as? [String: Any])
        #expect(object["stage"] as? String == "saver")
        #expect(object["run_id"] as? String == "20261122T101500Z-3f9a")
        #expect(object["msg"] as? String == "retrying")
        #expect(object["attempt"] as? Int == 2)
        #expect(object["level"] as? String == "warning")
    }
}

/// The lines `body` logs through a ``LineLogHandler`` of `stage`.
func logged(_ stage: String, level: Logger.Level, format: LogSettings.Format, _ body: (inout Logger) -> Void) -> [String] {
    let lines = LinesBox()
    var logger = Logger(label: stage) { _ in
        LineLogHandler(stage: stage, level: level, format: format, sink: LineSink { lines.append($0) })
    }
    body(&logger)
    return lines.all
}

final class LinesBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
