import PipelineRedis
import Testing
import TestSupport

extension RedisServerTests {
    /// Restarts the shared server (stop, start on the same port): `.serialized` on the parent suite
    /// keeps every other server test from running meanwhile.
    @Suite struct Restart {
        @Test func clientFailsOnceThenReconnectsAfterServerRestart() async throws {
            let redis = RedisTest.client()
            let key = RedisTest.prefix() + "kept"
            try await redis.set(key, "before restart")

            try await RedisTestServer.restart()

            // The call on the dead connection fails and says so; it is not silently re-sent.
            let error = try await #require(throws: RedisError.self) { try await redis.ping() }
            #expect(error.kind == .connectionLost)
            #expect(error.description.hasPrefix("redis \(RedisTest.url.endpoint): PING: connection lost: "))
            // The next call reconnects; AOF kept the data.
            #expect(try await redis.ping() == "PONG")
            #expect(try await redis.getString(key) == "before restart")
        }

        @Test func subscriberResubscribesAfterServerRestart() async throws {
            let channel = RedisTest.prefix() + "phase2_complete"
            let subscriber = RedisSubscriber(url: RedisTest.url, channels: [channel], reconnectPolicy: RedisTest.fastReconnect)
            defer { subscriber.close() }
            let recorder = RedisEventRecorder(subscriber)
            #expect(try await RedisTest.eventually { recorder.subscribedCount == 1 })

            try await RedisTestServer.restart()

            #expect(try await RedisTest.eventually { recorder.subscribedCount == 2 })
            let reconnecting = recorder.events.filter { if case .reconnecting = $0 { true } else { false } }
            #expect(!reconnecting.isEmpty)
            if case .reconnecting(let attempt, _, let error) = reconnecting.first {
                #expect(attempt == 1)
                #expect(error.isTransient)
                #expect(error.endpoint == RedisTest.url.endpoint)
            }

            let payload: [UInt8] = Array("after restart".utf8) + [0x00]
            #expect(try await RedisTest.client().publish(channel, payload) == 1)
            #expect(try await RedisTest.eventually { recorder.messages.count == 1 })
            #expect(recorder.messages.first?.payload == payload)
            #expect(recorder.messages.first?.channel == channel)
            #expect(!recorder.finished)
        }
    }
}
