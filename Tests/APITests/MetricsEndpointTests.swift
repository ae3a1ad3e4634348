import APICore
import APITestData
import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PipelineCore
import Testing
import TestSupport

/// `GET /metrics`: Prometheus' own checker accepts it, and its numbers are the database's.
@Suite struct MetricsEndpointTests {
    @Test func promtoolAcceptsTheText() async throws {
        try await SampleFixture.serving { fixture, client in
            for uri in ["/etl_runs", "/etl_runs/none", "/users?limit=2", "/nowhere", "/health"] {
                _ = try await client.execute(uri: uri, method: .get)
            }
            _ = try await client.execute(uri: "/users", method: .post)
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            #expect(response.contentType == "text/plain; version=0.0.4; charset=utf-8")
            let text = String(buffer: response.body)
            let file = fixture.directory.file("metrics.txt")
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            let check = try await ChildProcess.run("/bin/sh", ["-c", "promtool check metrics < \"$1\"", "sh", file])
            #expect(check.status == 0, "promtool (Debian package prometheus, scripts/install-deps.sh): \(check.stdout)\(check.stderr)\n\(text)")
            #expect(text.contains("# HELP etl_runs "), "every metric has help text")
        }
    }

    @Test func databaseGaugesEqualTheDatabase() async throws {
        let fixture = try await SampleFixture()
        let samples = try await scrape(fixture)
        let queue = try DatabaseQueue(path: fixture.databasePath, configuration: { var c = Configuration(); c.readonly = true; return c }())
        let (statuses, tables, unknown) = try await queue.read { db in
            let statuses = try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM etl_runs GROUP BY status").map { ($0[0] as String, $0[1] as Int) }
            let tables = try ["etl_runs", "raw_users", "users", "dlq_records", "etl_run_events"].map {
                ($0, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \($0)") ?? -1)
            }
            let unknown = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users WHERE department_code = 'UNKNOWN'") ?? -1
            return (statuses, tables, unknown)
        }
        #expect(statuses.count == 2, "completed and failed runs")
        for (status, count) in statuses {
            #expect(samples.value("etl_runs", ["status": status]) == Double(count), "etl_runs{status=\(status)}")
        }
        for status in RunStatus.allCases.map(\.rawValue) where !statuses.contains(where: { $0.0 == status }) {
            #expect(samples.value("etl_runs", ["status": status]) == 0, "a status with no runs reads 0")
        }
        for (table, count) in tables {
            #expect(samples.value("etl_table_rows", ["table": table]) == Double(count), "rows of \(table)")
        }
        #expect(unknown > 0)
        #expect(samples.value("etl_users_unknown_department", [:]) == Double(unknown))
        #expect(samples.value("etl_unknown_departments", [:]) == 1, "only \(SampleRunGenerator.unknownDepartment)")
        #expect(samples.value("etl_database_ready", [:]) == 1)
    }

    @Test func deadLettersPerRuleLastRunAndPhasesMatchWhatTheRunsRecorded() async throws {
        let fixture = try await SampleFixture()
        let samples = try await scrape(fixture)

        // Dead letters per rule, counted here from the staged dlq.jsonl lines (Foundation's parser).
        var rules: [String: Int] = [:]
        for run in fixture.runs {
            for line in run.dlqLines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let reasons = try #require(object["reasons"] as? [[String: Any]])
                for rule in Set(reasons.compactMap { $0["rule"] as? String }) { rules[rule, default: 0] += 1 }
            }
        }
        #expect(rules.count >= 2)
        #expect(Dictionary(uniqueKeysWithValues: samples.series("etl_dlq_rows").map { ($0.labels["rule"] ?? "", Int($0.value)) }) == rules)

        // The last completed run.
        let last = try #require(fixture.runs.filter { $0.status == .completed }.max { $0.finishedAt! < $1.finishedAt! })
        let finished = try #require(samples.value("etl_last_completed_run_timestamp_seconds", [:]))
        #expect(abs(finished - last.finishedAt!.timeIntervalSince1970) < 0.001)
        #expect(samples.value("etl_last_completed_run_duration_seconds", [:]) == Double(last.durationMS!) / 1000)

        // Per phase: one observation per run that completed it, summing the started → completed spans.
        for phase in Phase.allCases.map(\.rawValue) {
            var count = 0
            var sum = 0.0
            for run in fixture.runs {
                guard let completed = run.events.last(where: { $0.stage == phase && $0.event == "completed" }),
                    let started = run.events.last(where: { $0.stage == phase && $0.event == "started" })
                else { continue }
                count += 1
                sum += completed.at.timeIntervalSince(started.at)
            }
            #expect(count > 0)
            #expect(samples.value("etl_phase_duration_seconds_count", ["phase": phase]) == Double(count), "\(phase) count")
            let measured = try #require(samples.value("etl_phase_duration_seconds_sum", ["phase": phase]))
            #expect(abs(measured - sum) < 0.01, "\(phase) sum \(measured) vs \(sum)")
            #expect(samples.value("etl_phase_duration_seconds_bucket", ["phase": phase, "le": "+Inf"]) == Double(count))
        }
    }

    @Test func requestsAreCountedByRouteTemplateNotByPath() async throws {
        try await SampleFixture.serving(runCount: 2) { fixture, client in
            let run = fixture.runs[0].runID.rawValue
            for uri in ["/etl_runs/\(run)", "/etl_runs/other-1", "/etl_runs/other-2", "/etl_runs/\(run)/dlq", "/nowhere/at/all", "/users/7"] {
                _ = try await client.execute(uri: uri, method: .get)
            }
            _ = try await client.execute(uri: "/users/7", method: .head)
            _ = try await client.execute(uri: "/users", method: .delete)
            let samples = Samples(String(buffer: try await client.execute(uri: "/metrics", method: .get).body))
            let requests = "http_requests_total"
            #expect(samples.value(requests, ["method": "GET", "route": "/etl_runs/{run_id}", "status": "200"]) == 1)
            #expect(samples.value(requests, ["method": "GET", "route": "/etl_runs/{run_id}", "status": "404"]) == 2)
            #expect(samples.value(requests, ["method": "GET", "route": "/etl_runs/{run_id}/dlq", "status": "200"]) == 1)
            #expect(samples.value(requests, ["method": "GET", "route": "unmatched", "status": "404"]) == 1)
            #expect(samples.value(requests, ["method": "GET", "route": "/users/{id}", "status": "200"]) == 1)
            #expect(samples.value(requests, ["method": "HEAD", "route": "/users/{id}", "status": "200"]) == 1)
            #expect(samples.value(requests, ["method": "DELETE", "route": "/users", "status": "405"]) == 1)
            let routes = Set(samples.series(requests).compactMap { $0.labels["route"] })
            #expect(routes.isSubset(of: Set(APIPaths.templates + ["unmatched"])), "no raw path becomes a label: \(routes)")
            #expect(samples.value("http_request_duration_seconds_count", ["method": "GET", "route": "/etl_runs/{run_id}"]) == 3)
            #expect(samples.value("http_request_duration_seconds_bucket", ["method": "GET", "route": "/etl_runs/{run_id}", "le": "+Inf"]) == 3)
            let second = Samples(String(buffer: try await client.execute(uri: "/metrics", method: .get).body))
            #expect(second.value(requests, ["method": "GET", "route": "/metrics", "status": "200"]) == 1, "the first scrape is counted")
        }
    }

    @Test func beforeTheDatabaseExistsItStillAnswers() async throws {
        let directory = TemporaryDirectory("api-metrics")
        let app = Application(router: APIServer.router(database: LazyReader(path: directory.file("missing.db")), logger: LogCapture().logger))
        try await app.test(.router) { client in
            _ = try await client.execute(uri: "/etl_runs", method: .get)
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            let samples = Samples(String(buffer: response.body))
            #expect(samples.value("etl_database_ready", [:]) == 0)
            #expect(samples.series("etl_runs").isEmpty)
            #expect(samples.value("http_requests_total", ["method": "GET", "route": "/etl_runs", "status": "503"]) == 1)
        }
    }

    private func scrape(_ fixture: SampleFixture) async throws -> Samples {
        try await fixture.app().test(.router) { client in
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            return Samples(String(buffer: response.body))
        }
    }
}

/// The samples of a Prometheus text exposition, read line by line (`name{a="b",…} value`).
struct Samples {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var all: [Sample] = []

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = line[..<space]
            let value = line[line.index(after: space)...]
            let number = value == "+Inf" ? Double.infinity : Double(value) ?? .nan
            guard let brace = series.firstIndex(of: "{") else {
                all.append(Sample(name: String(series), labels: [:], value: number))
                continue
            }
            var labels: [String: String] = [:]
            // Label values here hold no `"`, `,` or `\`: route templates, statuses, rule names.
            for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
            }
            all.append(Sample(name: String(series[..<brace]), labels: labels, value: number))
        }
    }

    func series(_ name: String) -> [Sample] { all.filter { $0.name == name } }

    func value(_ name: String, _ labels: [String: String]) -> Double? {
        all.first { $0.name == name && $0.labels == labels }?.value
    }
}
