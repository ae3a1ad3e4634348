import PipelineRedis
import Testing
import TestSupport

extension RedisServerTests {
    @Suite struct PubSub {
        @Test func subscriberReceivesExactBytesPublishedByAnotherConnection() async throws {
            let channel = RedisTest.prefix() + "phase1_complete"
            let other = RedisTest.prefix() + "other"
            let subscriber = RedisSubscriber(url: RedisTest.url, channels: [channel, other])
            defer { subscriber.close() }
            let recorder = RedisEventRecorder(subscriber)
            #expect(try await eventually(within: .seconds(10)) { recorder.subscribedCount == 1 })

            let publisher = RedisTest.client()
            let payload: [UInt8] = Array(#"{"run_id":"20261122T101500Z-3f9a"}"#.utf8) + [0x00, 0x0D, 0x0A, 0xFF]
            #expect(try await publisher.publish(channel, payload) == 1)
            #expect(try await publisher.publish(other, "second") == 1)
            #expect(try await publisher.publish(RedisTest.prefix() + "nobody", "lost") == 0)

            #expect(try await eventually(within: .seconds(10)) { recorder.messages.count == 2 })
            let messages = recorder.messages
            #expect(messages.map(\.channel) == [channel, other])
            #expect(messages.first?.payload == payload)
            #expect(messages.last?.payload == Array("second".utf8))
            #expect(recorder.events.first == .subscribed)
        }

        @Test func closeEndsTheStreamPromptlyAndTheThread() async throws {
            let channel = RedisTest.prefix()
            let subscriber = RedisSubscriber(url: RedisTest.url, channels: [channel])
            let recorder = RedisEventRecorder(subscriber)
            #expect(try await eventually(within: .seconds(10)) { recorder.subscribedCount == 1 })

            // The thread is blocked in a read with no timeout: only shutdown(2) wakes it.
            let start = ContinuousClock.now
            subscriber.close()
            await recorder.task.value
            #expect(ContinuousClock.now - start < .seconds(10))
            #expect(recorder.finished)
            #expect(recorder.error == nil)
            #expect(try await RedisTest.client().publish(channel, "anyone?") == 0, "the subscription is gone on the server")
        }

        // Other suites run subscribers in parallel, so these tests watch their own subscriber
        // through the server (PUBSUB NUMSUB on a channel only they use), not the process's threads.
        @Test func droppingAnUnconsumedSubscriberStopsItsThread() async throws {
            let channel = RedisTest.prefix()
            let redis = RedisTest.client()
            func subscribers() async throws -> Int? {
                try await redis.send("PUBSUB", "NUMSUB", channel).array?.last?.int
            }
            do {
                let subscriber = RedisSubscriber(url: RedisTest.url, channels: [channel])
                #expect(subscriber.channels == [channel])
                #expect(try await eventually(within: .seconds(30)) { try await subscribers() == 1 })
                withExtendedLifetime(subscriber) {}
            }
            #expect(try await eventually(within: .seconds(30)) { try await subscribers() == 0 }, "dropping the subscriber closed its connection")
        }

        @Test func cancellingTheConsumerStopsTheSubscriber() async throws {
            let channel = RedisTest.prefix()
            let subscriber = RedisSubscriber(url: RedisTest.url, channels: [channel])
            let recorder = RedisEventRecorder(subscriber)
            #expect(try await eventually(within: .seconds(10)) { recorder.subscribedCount == 1 })

            let start = ContinuousClock.now
            recorder.task.cancel()
            await recorder.task.value
            #expect(ContinuousClock.now - start < .seconds(10))
            // The server saw the subscription go away.
            #expect(try await RedisTest.client().publish(channel, "anyone?") == 0)
        }
    }
}
