import EndToEndSupport
import Foundation
import PipelineCore
import Testing
import TestSupport

extension EndToEnd {
    /// A hostile upstream (`DummyJSON --hostile`): secrets under secret keys in other cases,
    /// spellings and escapes, nested deeper, inside arrays and arrays of arrays, under duplicate
    /// keys, as numbers and inside objects; rows that are a string, an array or a number holding
    /// secrets; log-injection text in `company.department` and `maidenName`. The fixture lists
    /// what it planted (`GET /_fixture/hostile`). Then every byte that left staging is searched
    /// for every planted value, plain and escaped (``Exposure``, ``SecretForms``).
    @Suite struct HostileUpstream {
        static let users = 500

        @Test("hostile upstream: the run completes, and no planted secret is in any staged output, SQLite row, SFTP file, API body, log or Redis value, in any form; raw.jsonl holds every one of them")
        func nothingPlantedLeavesStaging() async throws {
            let run = try await HostileRun.shared.result()
            #expect(run.status == "completed", "\(run.problems)")
            #expect(run.problems.isEmpty, "\(run.problems)")
            // The search can find them: the staged raw file (staging itself) holds every one.
            #expect(run.missingFromRaw.isEmpty, "not found in raw.jsonl: \(run.missingFromRaw)")
            let leaks = run.hits.count
            #expect(leaks == 0, "\(leaks) hits:\n\(run.hits.prefix(60).joined(separator: "\n"))")
            #expect(run.searchedBytes > 1_000_000, "searched \(run.searchedBytes) bytes")
        }

        @Test("hostile upstream: a log-injection row forges no log line (no stage's log has a line starting with the injected text)")
        func logInjectionForgesNoLogLine() async throws {
            let run = try await HostileRun.shared.result()
            #expect(run.status == "completed")
            // The injected text did reach a log (the transformer names the unknown department)…
            #expect(run.logLinesMentioningInjection > 0)
            // …but only inside the line that reports it.
            #expect(run.forgedLogLines.isEmpty, "\(run.forgedLogLines)")
        }

        @Test("hostile upstream, page level: a page whose body is not valid JSON (a byte that is not UTF-8, a NaN) next to planted secrets fails the run in phase extract within the retry budget, and none of those secrets is in the run's error, SQLite, the API, the logs or Redis", arguments: [
            "--invalid-utf8-users", "--nan-users",
        ])
        func invalidPageFailsTheRunAndLeaksNothing(flag: String) async throws {
            try await Pipeline.run(users: Self.users, fixture: ["--hostile", flag, "250"]) { p in
                let secrets = try await p.hostileSecrets()
                try await p.startDownstream()
                let extractor = try await p.extractOnce(within: .seconds(120))
                #expect(extractor.exitStatus != 0, "a failed cycle exits non-zero:\n\(extractor.tail())")
                let id = try await p.onlyRun()
                let failed = try await p.waitFor(id, [.failed], within: .seconds(30))
                #expect(failed.failedPhase == .extract)
                #expect(failed.error?.contains("not valid JSON") == true, "\(failed.error ?? "-")")
                #expect(try await eventually(within: .seconds(30)) {
                    let runs = try await p.getJSON(p.apiURL + "/etl_runs") as? [[String: Any]] ?? []
                    return runs.count == 1 && runs[0]["status"] as? String == "failed"
                }, "GET /etl_runs shows the failure")

                // The page as the upstream serves it holds the planted secret: the search finds it there.
                let page = p.directory.file("bad-page.json")
                try await runCommand("curl", ["-sS", "--max-time", "10", "-o", page, p.fixtureURL + "/users?limit=100&skip=200"])
                let served = [UInt8](FileManager.default.contents(atPath: page) ?? Data())
                let planted = flag == "--nan-users" ? "S3cr3t31" : "S3cr3t30"
                let secret = try #require(secrets.first { $0.hasPrefix(planted) })
                #expect(Exposure.missing([secret], in: served).isEmpty)
                #expect(throws: (any Error).self, "the page is not valid JSON") { _ = try JSONSerialization.jsonObject(with: Data(served)) }

                let exposure = try await Exposure.collect(p)
                #expect(exposure.sources.contains { $0.name == "sqlite table etl_runs" })
                let hits = exposure.hits(of: secrets)
                let leaks = hits.count
                #expect(leaks == 0, "\(leaks) hits:\n\(hits.prefix(60).joined(separator: "\n"))")
                #expect(p.uploadedNames().isEmpty)
            }
        }
    }
}

/// The one whole-pipeline run against the hostile fixture, made once per test process and read
/// by both tests that need it.
actor HostileRun {
    static let shared = HostileRun()

    struct Result: Sendable {
        var status: String
        var problems: [String]
        /// Planted secrets that no form of is found in the staged `raw.jsonl`.
        var missingFromRaw: [String]
        /// Every form of every planted secret found outside staging.
        var hits: [String]
        var searchedBytes: Int
        /// Stage log lines that mention the injected text, and those that start with it.
        var logLinesMentioningInjection: Int
        var forgedLogLines: [String]
    }

    private var made: Result?

    func result() async throws -> Result {
        if let made { return made }
        let result = try await Self.make()
        made = result
        return result
    }

    private static func make() async throws -> Result {
        try await Pipeline.run(users: EndToEnd.HostileUpstream.users, fixture: ["--hostile"]) { p in
            let secrets = try await p.hostileSecrets()
            let hostile = try await p.getJSON(p.fixtureURL + "/_fixture/hostile") as? [String: Any] ?? [:]
            let nonObjectRows = hostile["nonObjectRows"] as? Int ?? -1
            let injected = hostile["injectedLogLine"] as? String ?? "?"
            let badRows = try await p.fixtureInfo().badCount

            try await p.startDownstream()
            let extractor = try await p.extractOnce()
            var problems: [String] = []
            if extractor.exitStatus != 0 { problems.append("the extractor exited \(extractor.exitStatus ?? -1):\n\(extractor.tail())") }
            let id = try await p.onlyRun()
            let record = try await p.waitFor(id, [.completed, .failed])
            _ = try await eventually(within: .seconds(30)) {
                let runs = try await p.getJSON(p.apiURL + "/etl_runs") as? [[String: Any]] ?? []
                return runs.first?["status"] as? String == record.status.rawValue
            }

            // Every row went through: the non-object rows and the fixture's bad rows are the DLQ.
            let users = EndToEnd.HostileUpstream.users
            let invalid = badRows + nonObjectRows
            let state = try await FinalState.capture(p)
            problems += state.problems
            let expected = "completed failed_phase=- extracted=\(users) valid=\(users - invalid) invalid=\(invalid) loaded=\(users - invalid)"
            if state.runs != [expected] { problems.append("GET /etl_runs: \(state.runs), expected [\(expected)]") }
            // A masked hostile value made it through, masked (the rows were not dropped).
            let staged = String(decoding: p.staged(id, .users), as: UTF8.self)
            let maskedSSN = #""SSN":""# + String(repeating: "*", count: 19) + #"Qm7d""#
            if !staged.contains(maskedSSN) { problems.append("users.jsonl has no \(maskedSSN)") }

            let raw = p.staged(id, .raw)
            let plantedInPages = secrets.filter { !$0.hasPrefix("S3cr3t30") && !$0.hasPrefix("S3cr3t31") }
            let exposure = try await Exposure.collect(p)

            var mentioning = 0
            var forged: [String] = []
            for name in (try? FileManager.default.contentsOfDirectory(atPath: p.logsDirectory)) ?? [] where name != "dummyjson.log" {
                let log = String(decoding: FileManager.default.contents(atPath: p.logsDirectory + "/" + name) ?? Data(), as: UTF8.self)
                // A terminal also starts a line at a carriage return.
                for line in log.split(whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
                    if line.contains(injected.prefix(13)) { mentioning += 1 }
                    if Self.visibleStart(of: line).hasPrefix(injected.prefix(13)) { forged.append("\(name): \(line)") }
                }
            }
            return Result(
                status: record.status.rawValue, problems: problems,
                missingFromRaw: Exposure.missing(plantedInPages, in: raw),
                hits: exposure.hits(of: secrets), searchedBytes: exposure.byteCount,
                logLinesMentioningInjection: mentioning, forgedLogLines: forged)
        }
    }

    /// A line as a terminal shows it: without leading control characters and ANSI escape sequences.
    static func visibleStart(of line: Substring) -> Substring {
        var rest = line
        while let first = rest.unicodeScalars.first {
            if first == "\u{1B}" {
                rest = rest.dropFirst()
                if rest.first == "[" { rest = rest.dropFirst().drop { !($0.isLetter) }.dropFirst() }
            } else if first.value < 0x20 || first.value == 0x7F {
                rest = rest.dropFirst()
            } else {
                break
            }
        }
        return rest
    }
}

extension Pipeline {
    /// `GET /_fixture/hostile`'s `secrets`: every value the fixture plants.
    func hostileSecrets() async throws -> [String] {
        let object = try await getJSON(fixtureURL + "/_fixture/hostile") as? [String: Any] ?? [:]
        let secrets = object["secrets"] as? [String] ?? []
        guard secrets.count > 10 else { throw ChildProcessError("the fixture lists no planted secrets: \(object)") }
        return secrets
    }
}
