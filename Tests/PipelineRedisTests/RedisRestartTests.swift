import Foundation
import PipelineCore
import PipelineRedis
import PipelineRuntime
import Testing
import TestSupport

extension RedisServerTests {
    /// Restarts a server of its own (stop, start on the same port), so suites running in
    /// parallel on the shared server are not disturbed.
    @Suite struct Restart {
        @Test func clientFailsOnceThenReconnectsAfterServerRestart() async throws {
          try await RedisTestServer.withPrivateServer { urlText, port in
            let url = try RedisURL(urlText)
            let redis = RedisClient(url: url, connectTimeout: .seconds(2), commandTimeout: .seconds(5))
            let key = RedisTest.prefix() + "kept"
            try await redis.set(key, "before restart")

            try await RedisTestServer.restart(port: port)

            // The call on the dead connection fails and says so; it is not silently re-sent.
            let error = try await #require(throws: RedisError.self) { try await redis.ping() }
            #expect(error.kind == .connectionLost)
            #expect(error.description.hasPrefix("redis \(url.endpoint): PING: connection lost: "))
            // The next call reconnects; AOF kept the data.
            #expect(try await redis.ping() == "PONG")
            #expect(try await redis.getString(key) == "before restart")
          }
        }

        @Test func subscriberResubscribesAfterServerRestart() async throws {
          try await RedisTestServer.withPrivateServer { urlText, port in
            let url = try RedisURL(urlText)
            let channel = RedisTest.prefix() + "phase2_complete"
            let subscriber = RedisSubscriber(url: url, channels: [channel], reconnectPolicy: RedisTest.fastReconnect)
            defer { subscriber.close() }
            let recorder = RedisEventRecorder(subscriber)
            #expect(try await eventually(within: .seconds(10)) { recorder.subscribedCount == 1 })

            try await RedisTestServer.restart(port: port)

            #expect(try await eventually(within: .seconds(10)) { recorder.subscribedCount == 2 })
            let reconnecting = recorder.events.filter { if case .reconnecting = $0 { true } else { false } }
            #expect(!reconnecting.isEmpty)
            if case .reconnecting(let attempt, _, let error) = reconnecting.first {
                #expect(attempt == 1)
                #expect(error.isTransient)
                #expect(error.endpoint == url.endpoint)
            }

            let payload: [UInt8] = Array("after restart".utf8) + [0x00]
            #expect(try await RedisClient(url: url).publish(channel, payload) == 1)
            #expect(try await eventually(within: .seconds(10)) { recorder.messages.count == 1 })
            #expect(recorder.messages.first?.payload == payload)
            #expect(recorder.messages.first?.channel == channel)
            #expect(!recorder.finished)
          }
        }

        /// A stage in the middle of a run waits for a restarting Redis instead of failing the run.
        @Test func ledgerCallsRideOutARestart() async throws {
          try await RedisTestServer.withPrivateServer { urlText, port in
            let redis = RedisClient(url: try RedisURL(urlText), connectTimeout: .seconds(2), commandTimeout: .seconds(5))
            let ledger = RunLedger(redis: redis)
            let id = RunID()
            _ = try await ledger.startRun(id)

            try await RedisTestServer.stop(port: port)
            async let written: Void = ledger.saveCheckpoint(run: id, .init(skip: 300, offset: 4_096, total: 1_000))
            try await Task.sleep(for: .seconds(1))
            try await RedisTestServer.start(port: port)
            try await written

            #expect(try await ledger.run(id)?.checkpoint == .init(skip: 300, offset: 4_096, total: 1_000))
          }
        }

        /// The wait is bounded: with Redis gone for good, the call fails with Redis's error.
        @Test func ledgerCallsGiveUpAfterTheirRetries() async throws {
          let port = try freePort()
          let redis = RedisClient(url: try RedisURL("redis://127.0.0.1:\(port)/0"), connectTimeout: .seconds(1), commandTimeout: .seconds(1))
          let ledger = RunLedger(redis: redis, outage: RetryPolicy(maxRetries: 2, baseDelay: .milliseconds(10), multiplier: 2, maxDelay: .milliseconds(50)))
          let error = try await #require(throws: RedisError.self) { try await ledger.run(RunID()) }
          #expect(error.kind == .connectFailed)
        }

        /// A claim survives a Redis restart shorter than its TTL: failed renewals are retried
        /// until the claim would expire, not given up after one renewal interval.
        @Test func aClaimOutlivesARestartShorterThanItsTTL() async throws {
          try await RedisTestServer.withPrivateServer { urlText, port in
            let redis = RedisClient(url: try RedisURL(urlText), connectTimeout: .seconds(1), commandTimeout: .seconds(2))
            let id = RunID()
            // A renewal (every 4 s) shows as the TTL back above 10 s once 3 s have passed since
            // `start`; each step waits for one rather than trusting a timer on a loaded machine.
            @Sendable func renewed(since start: ContinuousClock.Instant) async throws -> Bool {
                try await Task.sleep(until: start + .seconds(3))
                return try await eventually(within: .seconds(20)) { try await redis.pttl(LedgerKey.lock(.transform, id)) > 10_000 }
            }
            let result = try await RunClaims(redis: redis, ttl: .seconds(12)).withClaim(.transform, run: id) {
                // Redis goes down just after a renewal and comes back 5 s later, past the next
                // one, well before the claim would expire (12 s after the last renewal).
                #expect(try await renewed(since: .now))
                let down = ContinuousClock.now
                try await RedisTestServer.stop(port: port)
                try await Task.sleep(until: down + .seconds(5))
                try await RedisTestServer.start(port: port)
                #expect(try await renewed(since: down), "renewed after the restart")
                return "done"
            }
            #expect(result == "done")
          }
        }
    }
}
