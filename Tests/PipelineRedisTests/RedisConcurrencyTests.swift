import PipelineRedis
import Testing
import TestSupport

extension RedisServerTests {
    @Suite struct Concurrency {
        @Test func manyConcurrentCallsWhileOthersBlockDoNotStallThePool() async throws {
            let prefix = RedisTest.prefix()
            // More blocked connections than the cooperative pool has threads: if hiredis ran
            // on the pool, nothing else (Task.sleep included) could run until they returned.
            let blockers = (0..<4).map { _ in RedisTest.client(commandTimeout: .seconds(90)) }
            let blocked = blockers.enumerated().map { index, client in
                Task { try await client.send("BLPOP", "\(prefix)list\(index)", 60) }
            }
            // Wait until the server holds all of them blocked.
            let waker = RedisTest.client()
            let allBlocked = try await eventually(within: .seconds(30)) {
                let info = try await waker.send("INFO", "clients").string ?? ""
                let line = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("blocked_clients:") }
                return line.flatMap { Int($0.dropFirst("blocked_clients:".count)) } ?? 0 >= blockers.count
            }
            try #require(allBlocked, "the BLPOPs never blocked")

            let redis = RedisTest.client()
            let counter = prefix + "counter"
            async let sleptFor: Duration = {
                let start = ContinuousClock.now
                try await Task.sleep(for: .milliseconds(100))
                return ContinuousClock.now - start
            }()
            let values = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<200 {
                    group.addTask { try await redis.incr(counter) }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            // Blocked calls last up to 60 s: a starved pool would hold the sleep that long.
            #expect(try await sleptFor < .seconds(15))
            #expect(values.sorted() == Array(1...200))
            #expect(try await redis.getString(counter) == "200")

            // The BLPOPs were still in flight; release them with pushes.
            for index in blockers.indices {
                _ = try await waker.send("RPUSH", "\(prefix)list\(index)", "item\(index)")
            }
            for (index, task) in blocked.enumerated() {
                let reply = try await task.value
                #expect(reply == .array([.bulk(Array("\(prefix)list\(index)".utf8)), .bulk(Array("item\(index)".utf8))]))
            }
        }
    }
}
