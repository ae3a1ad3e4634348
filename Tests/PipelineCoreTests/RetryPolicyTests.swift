import PipelineCore
import Testing

struct Transient: Error {}
struct Permanent: Error {}

@Suite struct RetryPolicyTests {
    @Test func defaultScheduleIsFiveFifteenFortyFive() {
        let policy = RetryPolicy.default
        #expect((1...3).map(policy.nominalDelay(forRetry:)) == [.seconds(5), .seconds(15), .seconds(45)])
        #expect(policy.nominalDelay(forRetry: 4) == .seconds(60), "capped at RETRY_MAX_DELAY_SECONDS")
    }

    @Test func jitterStaysWithinItsBounds() {
        let policy = RetryPolicy.default
        var generator = SystemRandomNumberGenerator()
        var seen = Set<Duration>()
        for _ in 0..<200 {
            let delay = policy.delay(forRetry: 2, using: &generator)
            #expect(policy.delayRange(forRetry: 2).contains(delay))
            seen.insert(delay)
        }
        #expect(seen.count > 1, "jitter varies the delay")
        #expect(policy.delayRange(forRetry: 2) == .seconds(12)...(.seconds(18)))
    }

    @Test func retryAfterWinsAndIsCapped() {
        let policy = RetryPolicy.default
        var generator = SystemRandomNumberGenerator()
        #expect(policy.delay(forRetry: 1, retryAfter: .seconds(10), using: &generator) == .seconds(10))
        #expect(policy.delay(forRetry: 1, retryAfter: .seconds(600), using: &generator) == .seconds(60))
        #expect(policy.delay(forRetry: 1, retryAfter: .seconds(-3), using: &generator) == .zero)
    }

    @Test func retriesTransientErrorsThenSucceeds() async throws {
        let policy = RetryPolicy(maxRetries: 3, baseDelay: .seconds(1), multiplier: 2, maxDelay: .seconds(30), jitter: 0)
        var waits: [Duration] = []
        var events: [Int] = []
        let value = try await policy.run({ attempt in
            if attempt < 3 { throw Transient() }
            return attempt
        }, classify: { _ in .retry(retryAfter: nil) }, sleep: { waits.append($0) }, onRetry: { events.append($0.retry) })
        #expect(value == 3)
        #expect(waits == [.seconds(1), .seconds(2)])
        #expect(events == [1, 2])
    }

    @Test func givesUpAfterMaxRetries() async {
        let policy = RetryPolicy(maxRetries: 3, baseDelay: .seconds(5), multiplier: 3, maxDelay: .seconds(60), jitter: 0)
        var attempts = 0
        var waits: [Duration] = []
        let error = await #expect(throws: RetriesExhausted.self) {
            try await policy.run({ _ -> Int in attempts += 1; throw Transient() },
                                 classify: { _ in .retry(retryAfter: nil) }, sleep: { waits.append($0) })
        }
        #expect(attempts == 4)
        #expect(waits == [.seconds(5), .seconds(15), .seconds(45)])
        #expect(error?.attempts == 4)
        #expect(error?.description.hasPrefix("gave up after 4 attempts") == true)
    }

    @Test func permanentErrorsAreNotRetried() async {
        var attempts = 0
        await #expect(throws: Permanent.self) {
            try await RetryPolicy.default.run({ _ -> Int in attempts += 1; throw Permanent() },
                                              classify: { $0 is Permanent ? .fail : .retry(retryAfter: nil) }, sleep: { _ in })
        }
        #expect(attempts == 1)
    }

    @Test func retryAfterFromTheErrorSetsTheWait() async throws {
        var waits: [Duration] = []
        _ = try await RetryPolicy.default.run({ attempt in
            if attempt == 1 { throw Transient() }
            return attempt
        }, classify: { _ in .retry(retryAfter: .seconds(10)) }, sleep: { waits.append($0) })
        #expect(waits == [.seconds(10)])
    }
}
