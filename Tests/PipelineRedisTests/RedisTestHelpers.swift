import Foundation
import PipelineCore
import PipelineRedis
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Every test that talks to the shared test server, nested here so that `.serialized` (which
/// applies to nested suites too) keeps the restart tests from pulling the server away from
/// the others. The time limit turns a hang into a failure.
@Suite(.serialized, .timeLimit(.minutes(1))) struct RedisServerTests {}

enum RedisTest {
    static let url: RedisURL = {
        do {
            return try RedisURL(RedisTestServer.url, name: "TEST_REDIS_URL")
        } catch {
            fatalError("\(error)")
        }
    }()

    static func client(commandTimeout: Duration = .seconds(5)) -> RedisClient {
        RedisClient(url: url, connectTimeout: .seconds(2), commandTimeout: commandTimeout)
    }

    /// A key prefix no other test (or earlier run) uses.
    static func prefix(_ test: String = #function) -> String {
        "test:\(test.prefix(while: { $0 != "(" })):\(UUID().uuidString.prefix(8)):"
    }

    /// A reconnect schedule fast enough for a restart within a test: 50 ms doubling to 500 ms, 30 tries.
    static let fastReconnect = RetryPolicy(maxRetries: 30, baseDelay: .milliseconds(50), multiplier: 2, maxDelay: .milliseconds(500), jitter: 0.1)
}

/// Consumes a subscriber's events in a task of its own and keeps them for assertions.
final class RedisEventRecorder: Sendable {
    private struct State {
        var events: [RedisSubscriber.Event] = []
        var finished = false
        var error: (any Error)?
    }

    private final class Box: Sendable {
        let state = Mutex(State())
    }

    private let box = Box()
    let task: Task<Void, Never>

    init(_ subscriber: RedisSubscriber) {
        let box = box
        task = Task {
            do {
                for try await event in subscriber.events {
                    box.state.withLock { $0.events.append(event) }
                }
                box.state.withLock { $0.finished = true }
            } catch {
                box.state.withLock {
                    $0.finished = true
                    $0.error = error
                }
            }
        }
    }

    var events: [RedisSubscriber.Event] { box.state.withLock { $0.events } }
    var finished: Bool { box.state.withLock { $0.finished } }
    var error: (any Error)? { box.state.withLock { $0.error } }
    var subscribedCount: Int { events.count { $0 == .subscribed } }
    var messages: [(channel: String, payload: [UInt8])] {
        events.compactMap { if case .message(let channel, let payload) = $0 { (channel, payload) } else { nil } }
    }
}
