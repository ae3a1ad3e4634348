import APICore
import APITestData
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PipelineCore
import Testing

@Suite struct RunsEndpointTests {
    static let runKeys: Set<String> = [
        "run_id", "status", "failed_phase", "error", "started_at", "finished_at", "duration_ms", "counts", "staged_files", "remote_files",
    ]

    @Test func listsRunsNewestFirstWithEveryField() async throws {
        try await SampleFixture.serving { fixture, client in
            let response = try await client.execute(uri: "/etl_runs", method: .get)
            #expect(response.status == .ok)
            #expect(response.contentType == "application/json; charset=utf-8")
            #expect(response.totalCount == fixture.runs.count)
            let runs = try response.array
            #expect(runs.map { $0.string("run_id") } == fixture.runsNewestFirst.map(\.runID.rawValue))
            let startedAt = runs.compactMap { $0.string("started_at") }
            #expect(startedAt == startedAt.sorted(by: >), "newest first")
            for run in runs {
                #expect(Set(run.keys) == Self.runKeys)
                #expect(Set(run.object("counts")?.keys ?? [:].keys) == ["extracted", "valid", "invalid", "loaded", "unknown_department"])
                for file in (run.objects("staged_files") ?? []) + (run.objects("remote_files") ?? []) {
                    #expect(Set(file.keys) == ["name", "rows", "bytes", "sha256"])
                    #expect(file.string("name")?.contains("/") == false, "a file's name, not its staging path")
                }
            }
        }
    }

    @Test func aCompletedRunShowsWhatTheSaverRecorded() async throws {
        try await SampleFixture.serving { fixture, client in
            let sample = fixture.runs[0]
            try #require(sample.status == .completed)
            let run = try await client.execute(uri: "/etl_runs/\(sample.runID)", method: .get).object
            #expect(run.string("status") == "completed")
            #expect(run.isNull("failed_phase") && run.isNull("error"))
            #expect(run.string("started_at") == Timestamp.format(sample.startedAt))
            #expect(run.string("finished_at") == Timestamp.format(sample.finishedAt!))
            #expect(run.int("duration_ms") == sample.durationMS)
            let counts = try #require(run.object("counts"))
            #expect(counts.int("extracted") == 15 && counts.int("valid") == 12 && counts.int("invalid") == 3)
            #expect(counts.int("loaded") == 12 && counts.int("unknown_department") == sample.counts.unknownDepartment)
            #expect(counts.int("unknown_department") == 1, "user 11 works in a department the lookup does not know")
            let staged = try #require(run.objects("staged_files"))
            #expect(staged.map { $0.string("name") } == ["raw.jsonl", "users.jsonl", "dlq.jsonl", "raw.masked.jsonl"])
            #expect(staged.map { $0.string("sha256") } == sample.stagedFiles.map(\.sha256))
            #expect(staged.map { $0.int("rows") } == [15, 12, 3, 15])
            let remote = try #require(run.objects("remote_files"))
            #expect(remote.map { $0.string("name") } == ["raw", "users", "dlq"].map { "\(sample.runID)_\($0).jsonl" } + ["\(sample.runID)_manifest.json"])
            #expect(remote.map { $0.int("bytes") } == sample.remoteFiles.map(\.bytes))
        }
    }

    /// The file columns are read without a tree of values, and odd entries still read sensibly
    /// (a name, else the path's last component, after its chunk folder for a chunk's file; no
    /// name: skipped; a member of another type: null).
    @Test func fileColumnsOfAnyShapeReadAsNamesRowsBytesAndDigests() async throws {
        let fixture = try await SampleFixture()
        let runID = fixture.runs[0].runID.rawValue
        let stored = #"[{"path":"/data/runs/x/users.jsonl","rows":3,"bytes":10,"sha256":"ab"},{"name":"caf\u00e9.jsonl","rows":1.5,"#
            + #""path":"ignored"},{"path":"/x/"},{"name":""},5,{"name":7,"path":"a\/b\/c.jsonl","bytes":"7","sha256":null},"#
            + #"{"rows":1},{"name":"n","name":"second","rows":2,"rows":3},"#
            + #"{"path":"/data/runs/x/chunks/000003/users.jsonl","rows":4},{"path":"/data/runs\/x/chunks/12/dlq.jsonl"}]"#
        let pool = try DatabasePool(path: fixture.databasePath)
        try await pool.write { db in
            try db.execute(sql: "UPDATE etl_runs SET staged_files = ?, remote_files = 'not json' WHERE run_id = ?", arguments: [stored, runID])
        }
        try pool.close()
        try await fixture.app().test(.router) { client in
            let run = try await client.execute(uri: "/etl_runs/\(runID)", method: .get).object
            let staged = try #require(run.objects("staged_files"))
            #expect(staged.map { $0.string("name") } == ["users.jsonl", "café.jsonl", "x", "c.jsonl", "n", "chunks/000003/users.jsonl", "dlq.jsonl"])
            #expect(staged.map { $0.int("rows") } == [3, nil, nil, nil, 2, 4, nil])
            #expect(staged.map { $0.int("bytes") } == [10, nil, nil, nil, nil, nil, nil])
            #expect(staged.map { $0.string("sha256") } == ["ab", nil, nil, nil, nil, nil, nil])
            #expect(staged.allSatisfy { Set($0.keys) == ["name", "rows", "bytes", "sha256"] })
            #expect(run.objects("remote_files")?.isEmpty == true)
        }
    }

    @Test func failedRunsNameThePhaseAndTheError() async throws {
        try await SampleFixture.serving { fixture, client in
            let transform = fixture.runs[3]
            let run = try await client.execute(uri: "/etl_runs/\(transform.runID)", method: .get).object
            #expect(run.string("status") == "failed")
            #expect(run.string("failed_phase") == "transform")
            #expect(run.string("error") == transform.error)
            #expect(run.object("counts")?.int("extracted") == 15)
            #expect(run.object("counts")?.isNull("valid") == true, "a count the run never reached is null")
            #expect(run.objects("remote_files")?.isEmpty == true)
            let save = try await client.execute(uri: "/etl_runs/\(fixture.runs[7].runID)", method: .get).object
            #expect(save.string("failed_phase") == "save")
        }
    }

    @Test func paginatesWithLimitAndOffset() async throws {
        try await SampleFixture.serving { fixture, client in
            let expected = fixture.runsNewestFirst.map(\.runID.rawValue)
            var seen: [String] = []
            for offset in stride(from: 0, to: expected.count + 5, by: 5) {
                let response = try await client.execute(uri: "/etl_runs?limit=5&offset=\(offset)", method: .get)
                #expect(response.status == .ok)
                #expect(response.totalCount == expected.count, "the total ignores the page")
                seen += try response.array.compactMap { $0.string("run_id") }
            }
            #expect(seen == expected, "pages are contiguous and in order")
            let beyond = try await client.execute(uri: "/etl_runs?offset=1000", method: .get)
            #expect(try beyond.array.isEmpty)
            #expect(beyond.totalCount == expected.count)
            #expect(try await client.execute(uri: "/etl_runs?limit=1", method: .get).array.count == 1)
            #expect(try await client.execute(uri: "/etl_runs?limit=500", method: .get).array.count == expected.count)
        }
    }

    @Test func theDefaultPageIsFifty() async throws {
        try await SampleFixture.serving(runCount: 60, usersPerRun: 2) { _, client in
            let response = try await client.execute(uri: "/etl_runs", method: .get)
            #expect(try response.array.count == 50)
            #expect(response.totalCount == 60)
        }
    }

    @Test(arguments: [
        ("limit=0", "limit"), ("limit=501", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"), ("limit=", "limit"),
        ("limit=1.5", "limit"), ("limit=99999999999999999999", "limit"), ("offset=-1", "offset"), ("offset=abc", "offset"),
        ("offset=", "offset"), ("offset=1e3", "offset"), ("status=bogus", "status"), ("status=", "status"),
        ("status=COMPLETED", "status"), ("limit=10&offset=x", "offset"),
    ])
    func rejectsBadParametersNamingThem(query: String, parameter: String) async throws {
        try await SampleFixture.serving(runCount: 2) { fixture, client in
            for path in ["/etl_runs", "/etl_runs/\(fixture.runs[0].runID)/dlq"] where parameter != "status" || path == "/etl_runs" {
                let response = try await client.execute(uri: "\(path)?\(query)", method: .get)
                let detail = try expectError(response, .badRequest)
                #expect(detail?.string("parameter") == parameter)
                #expect(detail?.string("in") == "query")
                #expect(try response.object.string("error")?.contains("'\(parameter)'") == true)
            }
        }
    }

    @Test func filtersByStatus() async throws {
        try await SampleFixture.serving { fixture, client in
            for status in RunStatus.allCases {
                let expected = fixture.runsNewestFirst.filter { $0.status == status }.map(\.runID.rawValue)
                let response = try await client.execute(uri: "/etl_runs?status=\(status.rawValue)&limit=500", method: .get)
                #expect(response.status == .ok)
                #expect(try response.array.map { $0.string("run_id") } == expected, "status \(status)")
                #expect(response.totalCount == expected.count)
            }
            let failed = try await client.execute(uri: "/etl_runs?status=failed&limit=1&offset=1", method: .get)
            #expect(failed.totalCount == 3)
            #expect(try failed.array.map { $0.string("run_id") } == [fixture.runsNewestFirst.filter { $0.status == .failed }[1].runID.rawValue])
        }
    }

    @Test func unknownRunsAre404() async throws {
        try await SampleFixture.serving(runCount: 2) { fixture, client in
            for path in ["/etl_runs/20990101T000000Z-ffff", "/etl_runs/nope/dlq", "/etl_runs/nope/events"] {
                let response = try await client.execute(uri: path, method: .get)
                let detail = try expectError(response, .notFound)
                #expect(detail?["run_id"] as? String != nil)
            }
            let encoded = try await client.execute(uri: "/etl_runs/\(fixture.runs[1].runID.rawValue.replacingOccurrences(of: "-", with: "%2D"))", method: .get)
            #expect(try encoded.object.string("run_id") == fixture.runs[1].runID.rawValue, "path parameters are percent-decoded")
        }
    }

    @Test func deadLettersCarryEveryReasonAndAMaskedPayload() async throws {
        try await SampleFixture.serving { fixture, client in
            let run = fixture.runs[0]
            let response = try await client.execute(uri: "/etl_runs/\(run.runID)/dlq", method: .get)
            #expect(response.status == .ok)
            #expect(response.totalCount == 3)
            let records = try response.array
            #expect(records.map { $0.int("line") } == [13, 14, 15], "by line in raw.jsonl")
            for record in records {
                #expect(Set(record.keys) == ["run_id", "line", "reasons", "payload", "inserted_at"])
                #expect(record.string("run_id") == run.runID.rawValue)
            }
            let reasons = try #require(records[0].objects("reasons"))
            #expect(reasons.map { "\($0.string("field")!).\($0.string("rule")!)" } == ["email.email_format", "age.range"])
            #expect(reasons.allSatisfy { $0.string("message")?.isEmpty == false })
            let payload = try #require(records[0].object("payload"))
            #expect(payload.int("id") == 13)
            #expect(payload["password"] == nil)
            #expect(payload.string("ssn") == "*******-013")
            #expect(payload.object("bank")?.string("cardNumber") == "************0013")
            #expect(records[1].objects("reasons")?.first?.string("field") == "company.department")
            #expect(records[2].string("payload")?.hasPrefix("{\"id\": 15") == true, "a line that is not JSON comes back as its text")
            #expect(records[2].objects("reasons")?.first?.string("rule") == "not_object")

            let page = try await client.execute(uri: "/etl_runs/\(run.runID)/dlq?limit=1&offset=1", method: .get)
            #expect(try page.array.map { $0.int("line") } == [14])
            #expect(page.totalCount == 3)
            let none = try await client.execute(uri: "/etl_runs/\(fixture.runs[3].runID)/dlq", method: .get)
            #expect(try none.array.isEmpty, "a run that failed in transform has no dead letters")
            #expect(none.totalCount == 0)
        }
    }

    @Test func eventsComeInTheOrderTheyHappened() async throws {
        try await SampleFixture.serving { fixture, client in
            let run = fixture.runs[0]
            let response = try await client.execute(uri: "/etl_runs/\(run.runID)/events", method: .get)
            #expect(response.status == .ok)
            let events = try response.array
            #expect(events.map { "\($0.string("stage")!):\($0.string("event")!)" } == run.events.map { "\($0.stage):\($0.event)" })
            #expect(events.map { $0.string("at") } == run.events.map { Timestamp.format($0.at) })
            for event in events {
                #expect(Set(event.keys) == ["id", "run_id", "at", "stage", "event", "detail"])
            }
            let ids = events.compactMap { $0.int("id") }
            #expect(ids == ids.sorted(), "ties on `at` keep the order they were written")
            #expect(events.first?.isNull("detail") == true)
            let failed = try await client.execute(uri: "/etl_runs/\(fixture.runs[3].runID)/events", method: .get).array
            #expect(failed.last?.string("event") == "failed")
        }
    }
}
