import Foundation
import Testing
import TestSupport

/// The dashboard's templates ship beside the binary (APICore's resource directory): the real
/// `API` copied without them refuses to start and says what is missing; copied with them, it
/// serves the pages.
@Suite(.serialized) struct DashboardBinaryTests {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: APIBinaryTests.binary), "needs .build/debug/API (swift build)"))
    func theBinaryNeedsItsTemplatesBesideIt() async throws {
        let directory = TemporaryDirectory("api-deployed")
        let alone = directory.file("alone/API")
        try FileManager.default.createDirectory(atPath: directory.file("alone"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: APIBinaryTests.binary, toPath: alone)
        let refused = try ChildProcess.api(environment: ["DB_PATH": directory.file("data.db"), "API_PORT": String(try freePort())], executable: alone)
        #expect(await refused.wait() == 1)
        #expect(refused.errorLog.contains("etl-pipeline_APICore.resources"), "\(refused.errorLog)")

        let deployed = directory.file("deployed/API")
        try FileManager.default.createDirectory(atPath: directory.file("deployed"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: APIBinaryTests.binary, toPath: deployed)
        let resources = (APIBinaryTests.binary as NSString).deletingLastPathComponent + "/etl-pipeline_APICore.resources"
        try FileManager.default.copyItem(atPath: resources, toPath: directory.file("deployed/etl-pipeline_APICore.resources"))
        let port = try freePort()
        let server = try ChildProcess.api(environment: ["API_HOST": "127.0.0.1", "API_PORT": String(port), "DB_PATH": directory.file("data.db")], executable: deployed)
        defer { server.killNow() }
        var status = ""
        let served = try await eventually(within: .seconds(30)) {
            status = try await ChildProcess.run("curl", ["-sS", "--max-time", "2", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/ui/"]).stdout
            return status == "503"  // the page saying the database is not ready yet
        }
        #expect(served, "GET /ui/ answered \(status): \(server.errorLog)")
    }
}
