import CoreMetrics
import Foundation
import GRDB
import PipelineCore
import PipelineDatabase

/// What the database holds, read in one read-only transaction at every scrape of `/metrics`.
struct DatabaseMetrics: Sendable {
    /// The tables counted by `etl_table_rows`.
    static let tables = [
        EtlRun.databaseTableName, RawUser.databaseTableName, User.databaseTableName, DLQRecord.databaseTableName, EtlRunEvent.databaseTableName,
    ]

    var runsByStatus: [String: Int] = [:]
    var tableRows: [String: Int] = [:]
    var deadLettersByRule: [(rule: String, rows: Int)] = []
    var unknownDepartmentUsers = 0
    var unknownDepartments = 0
    var lastCompleted: (finishedAt: Double, durationSeconds: Double)?
    var phaseDurations: [(phase: String, seconds: Double)] = []

    static func read(_ db: Database) throws -> DatabaseMetrics {
        var metrics = DatabaseMetrics()
        typealias Run = EtlRun.Columns
        for row in try Row.fetchAll(db, sql: "SELECT \(Run.status.name), COUNT(*) FROM \(EtlRun.databaseTableName) GROUP BY \(Run.status.name)") {
            metrics.runsByStatus[row[0]] = row[1]
        }
        for table in tables {
            metrics.tableRows[table] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0
        }
        metrics.deadLettersByRule = try Queries.deadLetterRules(db, runID: nil)
        let unknown = try Row.fetchOne(
            db,
            sql: """
                SELECT COUNT(*), COUNT(DISTINCT \(User.Columns.department.name)) FROM \(User.databaseTableName)
                WHERE \(User.Columns.departmentCode.name) = 'UNKNOWN'
                """)
        metrics.unknownDepartmentUsers = unknown?[0] ?? 0
        metrics.unknownDepartments = unknown?[1] ?? 0
        if let last = try Row.fetchOne(
            db,
            sql: """
                SELECT \(Run.startedAt.name), \(Run.finishedAt.name), \(Run.durationMs.name) FROM \(EtlRun.databaseTableName)
                WHERE \(Run.status.name) = 'completed' AND \(Run.finishedAt.name) IS NOT NULL
                ORDER BY \(Run.finishedAt.name) DESC, \(Run.runID.name) DESC LIMIT 1
                """),
            let finished = Timestamp.parse(last[1])
        {
            let durationMS: Int? = last[2]
            let started = Timestamp.parse(last[0]) ?? finished
            metrics.lastCompleted = (
                finished.timeIntervalSince1970, durationMS.map { Double($0) / 1000 } ?? finished.timeIntervalSince(started)
            )
        }
        metrics.phaseDurations = try phaseDurations(db)
        return metrics
    }

    /// Per run and phase with a `completed` event: from the phase's last `started` event at or
    /// before its last `completed` one (a phase retried after a failure counts its last attempt).
    static func phaseDurations(_ db: Database) throws -> [(phase: String, seconds: Double)] {
        var durations: [(phase: String, seconds: Double)] = []
        var key: (run: String, stage: String)?
        var started: Date?
        var completed: (started: Date, at: Date)?
        func flush() {
            if let key, let completed { durations.append((key.stage, max(0, completed.at.timeIntervalSince(completed.started)))) }
        }
        typealias C = EtlRunEvent.Columns
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT \(C.runID.name), \(C.stage.name), \(C.event.name), \(C.at.name) FROM \(EtlRunEvent.databaseTableName)
                WHERE \(C.event.name) IN ('started', 'completed') ORDER BY \(C.runID.name), \(C.stage.name), \(C.at.name), \(C.id.name)
                """)
        while let row = try rows.next() {
            let run: String = row[0]
            let stage: String = row[1]
            if key?.run != run || key?.stage != stage {
                flush()
                key = (run, stage)
                started = nil
                completed = nil
            }
            guard let at = Timestamp.parse(row[3]) else { continue }
            if row[2] as String == "started" {
                started = at
            } else if let started {
                completed = (started, at)
            }
        }
        flush()
        return durations
    }

    /// Records every metric through swift-metrics into `factory`'s registry.
    func record(into factory: any MetricsFactory) {
        for status in RunStatus.allCases.map(\.rawValue) + runsByStatus.keys.filter({ RunStatus(rawValue: $0) == nil }).sorted() {
            CoreMetrics.Gauge(label: MetricCatalog.runs.name, dimensions: [("status", status)], factory: factory)
                .record(runsByStatus[status] ?? 0)
        }
        for table in Self.tables {
            CoreMetrics.Gauge(label: MetricCatalog.tableRows.name, dimensions: [("table", table)], factory: factory).record(tableRows[table] ?? 0)
        }
        for (rule, rows) in deadLettersByRule {
            CoreMetrics.Gauge(label: MetricCatalog.deadLetters.name, dimensions: [("rule", rule)], factory: factory).record(rows)
        }
        CoreMetrics.Gauge(label: MetricCatalog.unknownDepartmentUsers.name, factory: factory).record(unknownDepartmentUsers)
        CoreMetrics.Gauge(label: MetricCatalog.unknownDepartments.name, factory: factory).record(unknownDepartments)
        if let lastCompleted {
            CoreMetrics.Gauge(label: MetricCatalog.lastCompletedTimestamp.name, factory: factory).record(lastCompleted.finishedAt)
            CoreMetrics.Gauge(label: MetricCatalog.lastCompletedDuration.name, factory: factory).record(lastCompleted.durationSeconds)
        }
        // Every phase has its series, empty until a phase of that kind completed.
        let histograms = Dictionary(uniqueKeysWithValues: Phase.allCases.map { phase in
            (phase.rawValue, CoreMetrics.Recorder(label: MetricCatalog.phaseDuration.name, dimensions: [("phase", phase.rawValue)], factory: factory))
        })
        for (phase, seconds) in phaseDurations {
            (histograms[phase] ?? CoreMetrics.Recorder(label: MetricCatalog.phaseDuration.name, dimensions: [("phase", phase)], factory: factory))
                .record(seconds)
        }
    }
}
