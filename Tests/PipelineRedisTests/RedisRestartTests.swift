import PipelineRedis
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
            #expect(try await RedisTest.eventually { recorder.subscribedCount == 1 })

            try await RedisTestServer.restart(port: port)

            #expect(try await RedisTest.eventually { recorder.subscribedCount == 2 })
            let reconnecting = recorder.events.filter { if case .reconnecting = $0 { true } else { false } }
            #expect(!reconnecting.isEmpty)
            if case .reconnecting(let attempt, _, let error) = reconnecting.first {
                #expect(attempt == 1)
                #expect(error.isTransient)
                #expect(error.endpoint == url.endpoint)
            }

            let payload: [UInt8] = Array("after restart".utf8) + [0x00]
            #expect(try await RedisClient(url: url).publish(channel, payload) == 1)
            #expect(try await RedisTest.eventually { recorder.messages.count == 1 })
            #expect(recorder.messages.first?.payload == payload)
            #expect(recorder.messages.first?.channel == channel)
            #expect(!recorder.finished)
          }
        }
    }
}
