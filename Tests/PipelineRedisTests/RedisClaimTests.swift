import PipelineRedis
import Testing
import TestSupport

extension RedisServerTests {
    @Suite struct Claims {
        @Test func twoClientsContendForOneClaimAndTheLoserWinsAfterTheTTL() async throws {
            let key = RedisTest.prefix() + "etl:lock:transform:run"
            let replicas = [("replica-a", RedisTest.client()), ("replica-b", RedisTest.client())]
            let ttl = Duration.seconds(4)

            let claimedAt = ContinuousClock.now
            let results = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for (owner, client) in replicas {
                    group.addTask { (owner, try await client.claim(key, owner: owner, ttl: ttl)) }
                }
                return try await group.reduce(into: [String: Bool]()) { $0[$1.0] = $1.1 }
            }
            let winners = results.filter(\.value).map(\.key)
            try #require(winners.count == 1, "exactly one replica must win, got \(results)")
            let winner = winners[0]
            let (loser, loserClient) = try #require(replicas.first { $0.0 != winner })
            #expect(try await loserClient.getString(key) == winner)

            // The winner stops renewing (as if it crashed): the loser keeps trying and gets it
            // once the TTL has run out, not before.
            let start = ContinuousClock.now
            while try await !loserClient.claim(key, owner: loser, ttl: .seconds(5)) {
                #expect(ContinuousClock.now - start < .seconds(15), "the claim never expired")
                try await Task.sleep(for: .milliseconds(25))
            }
            let waited = ContinuousClock.now - start
            // A machine that stalls past the TTL lets the loser's first try win, which is still
            // correct. What matters is that the claim was not won before the TTL.
            #expect(ContinuousClock.now - claimedAt >= ttl, "not won before the TTL ran out")
            #expect(waited < .seconds(15))
            #expect(try await loserClient.getString(key) == loser)
            // The crashed winner's late release must not remove the new owner's claim.
            #expect(try await replicas.first { $0.0 == winner }!.1.releaseClaim(key, owner: winner) == false)
            #expect(try await loserClient.getString(key) == loser)
        }
    }
}
