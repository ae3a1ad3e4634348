import Foundation
import PipelineHTTP
import Testing
import TestSupport

/// Several requests in flight, and proof that blocked transfers leave Swift's cooperative pool free.
@Suite struct HTTPConcurrencyTests {
    @Test func twentyConcurrentRequestsAllSucceed() async throws {
        let server = try HTTPTestServer { request in
            .send(HTTPTestServer.response(body: Array(request.target.utf8)))
        }
        defer { server.stop() }
        let client = CurlHTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), totalTimeout: .seconds(10)))

        let bodies = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for page in 0..<20 {
                group.addTask {
                    let response = try await client.get(server.baseURL + "/users?limit=10&skip=\(page * 10)")
                    #expect(response.status == 200)
                    return (page, String(decoding: response.body, as: UTF8.self))
                }
            }
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }

        #expect(bodies.count == 20)
        for page in 0..<20 {
            #expect(bodies[page] == "/users?limit=10&skip=\(page * 10)")
        }
    }

    @Test func blockedTransfersDoNotStarveTheCooperativePool() async throws {
        let server = try HTTPTestServer { _ in .hang }
        defer { server.stop() }
        // Blocked for up to 120 s: a starved pool would hold the sleep below that long; the bounds
        // leave room for a loaded machine.
        let client = CurlHTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2), totalTimeout: .seconds(120)))

        let blocked = (0..<2).map { _ in
            Task { try await client.get(server.baseURL + "/never") }
        }
        // Wait until both requests really are inside curl, blocked on the silent server.
        _ = try await eventually(within: .seconds(30)) { server.requests.count >= 2 }
        #expect(server.requests.count == 2)

        let (_, slept) = try await measure { try await Task.sleep(for: .milliseconds(100)) }
        #expect(slept < .seconds(15), "a 100 ms sleep took \(slept) beside two blocked transfers")

        // Cancelling aborts the blocked transfers promptly (curl's progress callback checks).
        for task in blocked { task.cancel() }
        let (_, cancelled) = await measure {
            for task in blocked {
                await #expect(throws: CancellationError.self) { try await task.value }
            }
        }
        #expect(cancelled < .seconds(15))
    }

    @Test func cancellationBeforeTheRequestStarts() async throws {
        let server = try HTTPTestServer { _ in .send(HTTPTestServer.response()) }
        defer { server.stop() }
        let client = CurlHTTPClient()

        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.get(server.baseURL + "/")
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(server.requests.isEmpty)
    }
}
