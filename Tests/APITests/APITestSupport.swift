import APICore
import APITestData
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing
import TestSupport

/// A database of sample runs in a temporary directory, written once per test through
/// `SampleDatabase`, that is by the saver's own `SaverStore` transactions.
final class SampleFixture: Sendable {
    let directory = TemporaryDirectory("api-test")
    let databasePath: String
    let runs: [SampleRun]

    /// 14 runs, 12 users each: runs 3 and 13 fail in transform, run 7 in save.
    init(runCount: Int = 14, usersPerRun: Int = 12, write: Bool = true) async throws {
        databasePath = directory.file("database/data.db")
        if write {
            runs = try await SampleDatabase.write(runCount: runCount, usersPerRun: usersPerRun, to: databasePath)
        } else {
            runs = SampleRunGenerator(usersPerRun: usersPerRun).runs(count: runCount)
        }
    }

    /// Runs newest first, as `/etl_runs` lists them.
    var runsNewestFirst: [SampleRun] { runs.sorted { $0.startedAt > $1.startedAt } }

    /// The users table as the saver's upserts leave it: per id, the run whose data last changed it.
    var expectedUsers: [Int: (runID: String, department: String, recordHash: String)] {
        var users: [Int: (runID: String, department: String, recordHash: String)] = [:]
        for run in runs {
            for line in run.userLines {
                let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                let id = object["id"] as! Int
                let hash = object["record_hash"] as! String
                let department = (object["company"] as! [String: Any])["department"] as! String
                if users[id]?.recordHash != hash {
                    users[id] = (run.runID.rawValue, department, hash)
                }
            }
        }
        return users
    }

    /// Runs `body` against the API (through the router, no socket) over a new fixture.
    static func serving(
        runCount: Int = 14, usersPerRun: Int = 12, write: Bool = true,
        _ body: @Sendable (SampleFixture, any TestClientProtocol) async throws -> Void
    ) async throws {
        let fixture = try await SampleFixture(runCount: runCount, usersPerRun: usersPerRun, write: write)
        try await fixture.app().test(.router) { client in try await body(fixture, client) }
    }

    func app(logs: LogCapture = LogCapture()) -> some ApplicationProtocol {
        let logger = logs.logger
        return Application(router: APIServer.router(database: LazyReader(path: databasePath), logger: logger), logger: logger)
    }
}

/// Keeps every log line the API writes, for tests that check the request log.
final class LogCapture: Sendable {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    var all: [Entry] { entries.withLock { $0 } }

    var logger: Logger {
        Logger(label: "api") { _ in Handler(capture: self) }
    }

    fileprivate func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append(Entry(level: event.level, message: event.message.description, metadata: merged.mapValues(\.description)))
        }
    }
}

extension TestResponse {
    /// The body parsed by Foundation (independently of the API's own JSON code).
    var json: Any {
        get throws {
            try JSONSerialization.jsonObject(with: Data(body.readableBytesView), options: [.fragmentsAllowed])
        }
    }

    var object: [String: Any] {
        get throws {
            guard let object = try json as? [String: Any] else { throw Unexpected("body is not a JSON object: \(String(buffer: body))") }
            return object
        }
    }

    var array: [[String: Any]] {
        get throws {
            guard let array = try json as? [[String: Any]] else { throw Unexpected("body is not a JSON array of objects: \(String(buffer: body))") }
            return array
        }
    }

    var totalCount: Int? { headers[HTTPField.Name("X-Total-Count")!].flatMap { Int($0) } }
    var contentType: String? { headers[.contentType] }
}

struct Unexpected: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Checks the error shape `{"error": "...", "detail": ...}` and returns the detail.
@discardableResult
func expectError(_ response: TestResponse, _ status: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any]? {
    #expect(response.status == status, "status \(response.status) for body \(String(buffer: response.body))", sourceLocation: sourceLocation)
    #expect(response.contentType?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
    let body = try response.object
    #expect(Set(body.keys) == ["error", "detail"], "keys \(body.keys)", sourceLocation: sourceLocation)
    #expect((body["error"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    return body["detail"] as? [String: Any]
}

/// Every key, at any depth, of a JSON value parsed by Foundation.
func allKeys(_ value: Any) -> Set<String> {
    switch value {
    case let object as [String: Any]: object.reduce(into: Set(object.keys)) { $0.formUnion(allKeys($1.value)) }
    case let array as [Any]: array.reduce(into: Set()) { $0.formUnion(allKeys($1)) }
    default: []
    }
}

extension Dictionary where Key == String, Value == Any {
    func string(_ key: String) -> String? { self[key] as? String }
    func int(_ key: String) -> Int? { self[key] as? Int }
    func object(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
    func objects(_ key: String) -> [[String: Any]]? { self[key] as? [[String: Any]] }
    func isNull(_ key: String) -> Bool { self[key] is NSNull }
}
