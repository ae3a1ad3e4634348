import PipelineCore
import PipelineRedis
import Testing
import TestSupport

extension RedisServerTests {
    /// Failures against loopback sockets only: a closed port, and a listener that never answers.
    /// They need no server, but they start subscriber threads, which the thread-count checks of
    /// the pub/sub tests would see: hence inside the serialized suite.
    @Suite struct Failures {
        @Test func connectionRefusedNamesHostPortAndReason() async throws {
            let port = try freePort()
            let redis = RedisClient(url: RedisURL(host: "127.0.0.1", port: port), connectTimeout: .seconds(1))
            let error = try await #require(throws: RedisError.self) { try await redis.ping() }
            #expect(error.kind == .connectFailed)
            #expect(error.isTransient)
            #expect(error.description == "redis 127.0.0.1:\(port): connect failed: Connection refused")
            // Still refused on the next call: each call tries to connect again.
            let again = try await #require(throws: RedisError.self) { try await redis.set("k", "v") }
            #expect(again.description.contains("127.0.0.1:\(port)") && again.description.contains("refused"))
        }

        /// A restarted server answers `LOADING` until it has read its AOF back: not now, not never.
        @Test func serverErrorsThatMeanNotYetAreTransient() {
            func server(_ message: String) -> RedisError {
                RedisError(kind: .server, endpoint: "127.0.0.1:6379", command: "HSET", message: message)
            }
            #expect(server("LOADING Redis is loading the dataset in memory").isTransient)
            #expect(server("TRYAGAIN Multiple keys request during rehashing of slot").isTransient)
            #expect(!server("WRONGTYPE Operation against a key holding the wrong kind of value").isTransient)
            #expect(!server("ERR unknown command").isTransient)
        }

        @Test func commandTimesOutAgainstASilentServer() async throws {
            let listener = try SilentListener()
            let redis = RedisClient(
                url: RedisURL(host: "127.0.0.1", port: listener.port),
                connectTimeout: .seconds(1), commandTimeout: .milliseconds(500)
            )
            let start = ContinuousClock.now
            let error = try await #require(throws: RedisError.self) { try await redis.get("some-key") }
            let elapsed = ContinuousClock.now - start
            #expect(error.kind == .timedOut)
            #expect(error.description == "redis 127.0.0.1:\(listener.port): GET: timed out after 0.5 s")
            #expect(elapsed >= .milliseconds(400) && elapsed < .seconds(20))
            withExtendedLifetime(listener) {}
        }

        @Test func subscriberGivesUpAfterBoundedFailures() async throws {
            let port = try freePort()
            let policy = RetryPolicy(maxRetries: 2, baseDelay: .milliseconds(10), multiplier: 2, maxDelay: .milliseconds(50), jitter: 0)
            let subscriber = RedisSubscriber(url: RedisURL(host: "127.0.0.1", port: port), channels: ["c"], reconnectPolicy: policy)
            let recorder = RedisEventRecorder(subscriber)
            await recorder.task.value

            let attempts = recorder.events.compactMap { if case .reconnecting(let attempt, _, _) = $0 { attempt } else { nil } }
            #expect(attempts == [1, 2])
            #expect(recorder.subscribedCount == 0)
            let error = try #require(recorder.error as? RedisSubscriber.GaveUp)
            #expect(error.failures == 3)
            #expect(error.lastError.kind == .connectFailed)
            #expect(error.description == "redis subscriber gave up after 3 consecutive failures, the last: redis 127.0.0.1:\(port): connect failed: Connection refused")
        }

        @Test func subscriberClosedDuringBackoffStopsPromptly() async throws {
            let port = try freePort()
            let policy = RetryPolicy(maxRetries: 5, baseDelay: .seconds(30), multiplier: 1, maxDelay: .seconds(30), jitter: 0)
            let subscriber = RedisSubscriber(url: RedisURL(host: "127.0.0.1", port: port), channels: ["c"], reconnectPolicy: policy)
            let recorder = RedisEventRecorder(subscriber)
            #expect(try await eventually(within: .seconds(10)) { !recorder.events.isEmpty })
            let start = ContinuousClock.now
            subscriber.close()
            await recorder.task.value
            #expect(ContinuousClock.now - start < .seconds(10))
            #expect(recorder.error == nil)
        }
    }
}
