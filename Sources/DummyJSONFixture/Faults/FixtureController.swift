import Synchronization

/// Request counts since start or the last reset.
public struct FixtureStats: Sendable, Equatable, Codable {
    /// `/users` and `/users/{id}` requests (the numbers the faults refer to).
    public var requests: Int
    /// Responses to those requests by HTTP status ("200", "429", …). A truncated response
    /// counts under its status, 200.
    public var byStatus: [String: Int]
    /// Faults injected, by name: down, rateLimit, failEvery, malformed, truncated, delayed,
    /// totalChanged, reportTotal, hostile (a response served in hostile mode).
    public var injected: [String: Int]

    public init(requests: Int = 0, byStatus: [String: Int] = [:], injected: [String: Int] = [:]) {
        self.requests = requests
        self.byStatus = byStatus
        self.injected = injected
    }
}

/// What to do with one `/users` request.
public enum Admission: Sendable, Equatable {
    /// 503: `down` is on.
    case down
    /// 429 with `Retry-After`.
    case rateLimited(retryAfterSeconds: Int)
    /// 503 from `failEvery`.
    case failed
    /// Answer normally over `total` users, with the body fault if any.
    case serve(total: Int, bodyFault: BodyFault)
}

public enum BodyFault: String, Sendable, Equatable {
    case none, malformed, truncated
}

public struct AdmissionTicket: Sendable, Equatable {
    /// The request number, from 1.
    public let request: Int
    public let admission: Admission
    public let delayMs: Int
    /// The `total` the envelope reports instead of the real one (the `reportTotal` fault).
    public var reportedTotal: Int? = nil
    /// What the fault settings do to the content of the users served (hostile mode, invalid users).
    public var content: ContentFaults = .none
}

/// The fixture's mutable state: fault settings, request counters and the rate-limit window.
/// Thread-safe; every decision for one request is taken under one lock.
public final class FixtureController: Sendable {
    /// Faults at start (flags/env); `reset()` returns to them.
    public let baselineFaults: FaultSettings
    /// Users before any total change.
    public let baseCount: Int

    struct State {
        var faults: FaultSettings
        var stats = FixtureStats()
        var windowStart: ContinuousClock.Instant?
        var windowCount = 0
    }

    private let state: Mutex<State>

    public init(baseCount: Int, faults: FaultSettings) {
        self.baseCount = baseCount
        self.baselineFaults = faults
        self.state = Mutex(State(faults: faults))
    }

    public var faults: FaultSettings {
        state.withLock { $0.faults }
    }

    /// Replaces the fault settings (counters are kept).
    public func setFaults(_ faults: FaultSettings) throws {
        try faults.validate()
        state.withLock {
            $0.faults = faults
            $0.windowStart = nil
            $0.windowCount = 0
        }
    }

    /// Counters to zero, rate window closed, faults back to the start settings.
    public func reset() {
        state.withLock { $0 = State(faults: baselineFaults) }
    }

    public func stats() -> FixtureStats {
        state.withLock { $0.stats }
    }

    /// The `total` the next request would see (without counting a request).
    public var currentTotal: Int {
        state.withLock { s in total(for: s.stats.requests + 1, faults: s.faults) }
    }

    func total(for request: Int, faults: FaultSettings) -> Int {
        if let after = faults.totalChangeAfter, request > after {
            return baseCount + faults.totalChangeBy
        }
        return baseCount
    }

    /// Numbers a new `/users` request and decides its fate.
    public func admit(now: ContinuousClock.Instant = .now) -> AdmissionTicket {
        state.withLock { s in
            s.stats.requests += 1
            let n = s.stats.requests
            let f = s.faults
            func injected(_ name: String) { s.stats.injected[name, default: 0] += 1 }
            if f.delayMs > 0 { injected("delayed") }

            if f.down {
                injected("down")
                return AdmissionTicket(request: n, admission: .down, delayMs: f.delayMs)
            }
            if f.rateLimit > 0 {
                if let start = s.windowStart, now - start < .seconds(f.rateWindowSeconds) {
                    // still inside the window
                } else {
                    s.windowStart = now
                    s.windowCount = 0
                }
                if s.windowCount >= f.rateLimit {
                    injected("rateLimit")
                    return AdmissionTicket(request: n, admission: .rateLimited(retryAfterSeconds: f.retryAfterSeconds), delayMs: f.delayMs)
                }
                s.windowCount += 1
            }
            if f.failEvery > 0, n % f.failEvery == 0 {
                injected("failEvery")
                return AdmissionTicket(request: n, admission: .failed, delayMs: f.delayMs)
            }
            let total = total(for: n, faults: f)
            if total != baseCount { injected("totalChanged") }
            var body = BodyFault.none
            if f.malformedRequests.contains(n) {
                body = .malformed
                injected("malformed")
            } else if f.truncateRequests.contains(n) {
                body = .truncated
                injected("truncated")
            }
            if f.reportTotal != nil { injected("reportTotal") }
            if f.hostile { injected("hostile") }
            return AdmissionTicket(request: n, admission: .serve(total: total, bodyFault: body), delayMs: f.delayMs,
                                   reportedTotal: f.reportTotal, content: f.content)
        }
    }

    /// Counts a response status for a `/users` request.
    public func record(status: Int) {
        state.withLock { $0.stats.byStatus[String(status), default: 0] += 1 }
    }
}
