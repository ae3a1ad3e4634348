import CoreMetrics
import Prometheus

/// `GET /metrics` (docs/API.md, "Metrics"): the Prometheus text format, through swift-metrics over
/// swift-prometheus. HTTP metrics live in a registry as long as the process; the database's are
/// computed at every scrape into a fresh registry (``DatabaseMetrics``), so a scrape shows the
/// file as it is. Every metric goes through an explicit factory (``MetricCatalog/Factory``), never
/// the global `MetricsSystem`, so tests can run several servers in one process.
public final class APIMetrics: Sendable {
    /// The process's HTTP metrics.
    let http = PrometheusCollectorRegistry()
    private let httpFactory: MetricCatalog.Factory

    public init() {
        httpFactory = MetricCatalog.Factory(registry: http)
    }

    /// Counts one answered request under its route template (``APIPaths/route(of:)``), never its
    /// raw path, so the number of series stays bounded whatever clients send.
    func recordRequest(method: String, path: String, status: Int, duration: Duration) {
        let route = APIPaths.route(of: path)
        let method = MetricCatalog.methods.contains(method) ? method : "other"
        CoreMetrics.Counter(
            label: MetricCatalog.httpRequests.name, dimensions: [("method", method), ("route", route), ("status", String(status))],
            factory: httpFactory
        ).increment()
        CoreMetrics.Timer(
            label: MetricCatalog.httpDuration.name, dimensions: [("method", method), ("route", route)], factory: httpFactory
        ).recordNanoseconds(Self.nanoseconds(duration))
    }

    /// The text of a scrape: the database's metrics (or `etl_database_ready 0` while it is not
    /// ready), then the HTTP ones.
    func scrape(database: LazyReader) async throws -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        let factory = MetricCatalog.Factory(registry: registry)
        do {
            let snapshot = try await database.read { db in try DatabaseMetrics.read(db) }
            snapshot.record(into: factory)
            CoreMetrics.Gauge(label: MetricCatalog.databaseReady.name, factory: factory).record(1)
        } catch is DatabaseNotReady {
            CoreMetrics.Gauge(label: MetricCatalog.databaseReady.name, factory: factory).record(0)
        }
        var bytes = registry.emitToBuffer()
        http.emit(into: &bytes)
        return bytes
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Every metric the API exports: its name, `# HELP` text and, for histograms, buckets.
///
/// swift-prometheus' own `PrometheusMetricsFactory` gives swift-metrics' metrics no help text, and
/// `promtool check metrics` rejects a metric without one; ``Factory`` is the same bridge with the
/// help text (and buckets) of this catalog.
enum MetricCatalog {
    struct Entry: Sendable {
        var name: String
        var help: String
        var buckets: [Double] = []

        /// The name (no namespace or unit parts: ``name`` is the whole name) and the help text.
        var descriptor: MetricNameDescriptor { MetricNameDescriptor(metricName: name, unitName: "", helpText: help) }
    }

    static let httpRequests = Entry(
        name: "http_requests_total", help: "HTTP requests answered by the API, by method, route template and status")
    static let httpDuration = Entry(
        name: "http_request_duration_seconds", help: "Time to answer an HTTP request, by method and route template",
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
    static let databaseReady = Entry(
        name: "etl_database_ready", help: "1 when the database exists with the saver's tables, 0 before (then no etl_* data metrics)")
    static let runs = Entry(name: "etl_runs", help: "Runs in etl_runs, by status")
    static let tableRows = Entry(name: "etl_table_rows", help: "Rows in each table of the database")
    static let deadLetters = Entry(
        name: "etl_dlq_rows", help: "Dead-letter rows (all runs) with at least one reason of this rule; a row with several rules counts under each")
    static let unknownDepartmentUsers = Entry(
        name: "etl_users_unknown_department", help: "Users whose department is not in the lookup table (department_code UNKNOWN)")
    static let unknownDepartments = Entry(
        name: "etl_unknown_departments", help: "Distinct department names of users that are not in the lookup table")
    static let lastCompletedTimestamp = Entry(
        name: "etl_last_completed_run_timestamp_seconds", help: "When the last completed run finished (Unix time); absent before the first")
    static let lastCompletedDuration = Entry(
        name: "etl_last_completed_run_duration_seconds", help: "How long the last completed run took, start to finish; absent before the first")
    static let phaseDuration = Entry(
        name: "etl_phase_duration_seconds",
        help: "Duration of each completed phase of every run in the database (its last start to its completion), by phase",
        buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600])

    static let all = [
        httpRequests, httpDuration, databaseReady, runs, tableRows, deadLetters, unknownDepartmentUsers, unknownDepartments,
        lastCompletedTimestamp, lastCompletedDuration, phaseDuration,
    ]

    /// The `method` label's values; any other method counts as `other`.
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]

    private static let byName: [String: Entry] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    static func entry(_ label: String) -> Entry {
        guard let entry = byName[label] else { preconditionFailure("metric \(label) is not in MetricCatalog") }
        return entry
    }

    /// swift-metrics' factory over one Prometheus registry, for the metrics of the catalog only.
    struct Factory: MetricsFactory {
        let registry: PrometheusCollectorRegistry

        func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
            registry.makeCounter(descriptor: MetricCatalog.entry(label).descriptor, labels: dimensions)
        }

        func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
            registry.makeCounter(descriptor: MetricCatalog.entry(label).descriptor, labels: dimensions)
        }

        func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
            let entry = MetricCatalog.entry(label)
            guard aggregate else { return registry.makeGauge(descriptor: entry.descriptor, labels: dimensions) }
            return registry.makeValueHistogram(descriptor: entry.descriptor, labels: dimensions, buckets: entry.buckets)
        }

        func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
            registry.makeGauge(descriptor: MetricCatalog.entry(label).descriptor, labels: dimensions)
        }

        func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
            let entry = MetricCatalog.entry(label)
            return registry.makeDurationHistogram(
                descriptor: entry.descriptor, labels: dimensions,
                buckets: entry.buckets.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) })
        }

        // The API keeps every series for the life of its registry.
        func destroyCounter(_ handler: any CounterHandler) {}
        func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
        func destroyRecorder(_ handler: any RecorderHandler) {}
        func destroyMeter(_ handler: any MeterHandler) {}
        func destroyTimer(_ handler: any TimerHandler) {}
    }
}
