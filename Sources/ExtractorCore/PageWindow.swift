import Logging

/// Keeps several page requests in flight while the run's pages are still appended strictly in
/// order (docs/ARCHITECTURE.md, "Stages").
///
/// Why: one page costs a round trip to the upstream plus an append, an fsync and a ledger
/// write. Fetching the next pages while the current one is made durable hides the round trips,
/// and pages already waiting when a checkpoint starts share it (one fsync, one ledger write).
///
/// Pages are still validated and appended in `skip` order, and a checkpoint is written only
/// after the pages before it are durable, so a killed run resumes exactly where the ledger
/// says; a page that fails fails the run only after every page before it was checkpointed;
/// nothing past `total` is requested.
///
/// The window starts at one request and doubles after ``rampAfter`` consecutive pages that
/// needed no retry, up to ``maxInFlight``; a page that needed a retry (a 429, a 5xx, a
/// timeout…) drops it back to one, so a struggling upstream sees one request at a time.
struct PageWindow: Sendable {
    let fetcher: PageFetcher
    let pageSize: Int
    let maxInFlight: Int
    var rampAfter = 4

    /// What the extraction does with each page, in order.
    struct Consumer {
        /// Checks a page fetched at `skip` against the run so far and returns how many users it
        /// holds; throws (before anything is written) when the page fails the run.
        var validate: (_ fetched: PageFetcher.Fetched, _ skip: Int) throws -> Int
        /// Appends a validated page (buffered; made durable by `checkpoint`).
        var append: (_ fetched: PageFetcher.Fetched, _ skip: Int) throws -> Void
        /// Makes the appended pages durable and records `nextSkip` in the ledger.
        var checkpoint: (_ nextSkip: Int, _ total: Int) async throws -> Void
    }

    /// Pages from `start` until `skip` reaches the upstream's `total` (known from a checkpoint,
    /// or learnt from the first page, which is always fetched).
    func run(from start: Int, total knownTotal: Int?, logger: Logger, _ consumer: Consumer) async throws {
        let fetcher = self.fetcher
        var state = State(next: start, scheduleFrom: start, total: knownTotal, pageSize: pageSize)
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            while true {
                for page in state.due() { Self.request(page, fetcher: fetcher, logger: logger, in: &group) }
                while state.ready[state.next] == nil {
                    guard let outcome = try await group.next() else {
                        preconditionFailure("page \(state.next) was neither requested nor received")
                    }
                    state.received(outcome)
                    for page in state.due() { Self.request(page, fetcher: fetcher, logger: logger, in: &group) }
                }
                var appended = 0
                while let result = state.ready.removeValue(forKey: state.next) {
                    let fetched: PageFetcher.Fetched
                    let count: Int
                    do {
                        fetched = try result.get()
                        count = try consumer.validate(fetched, state.next)
                    } catch {
                        // Every page before the failing one stays durable and checkpointed.
                        if appended > 0, let total = state.total { try await consumer.checkpoint(state.next, total) }
                        throw error
                    }
                    try consumer.append(fetched, state.next)
                    appended += 1
                    if fetched.attempts > 1 && state.window > 1 {
                        logger.info("a page needed a retry; requesting pages one at a time", metadata: ["skip": "\(state.next)"])
                    }
                    state.consumed(fetched, count: count, rampAfter: rampAfter, maxInFlight: maxInFlight)
                    if state.next >= fetched.page.total { break }
                }
                let total = state.total!
                try await consumer.checkpoint(state.next, total)
                if state.next >= total { break }
            }
            group.cancelAll()
        }
    }

    /// A child task's answer: the page's generation and `skip`, and the page or why it failed.
    /// A struct on purpose: with a labelled tuple as the group's child result type, this release
    /// build (Swift 6.3.1, -O) handed back results with the wrong `skip`, or none at all.
    struct Outcome: Sendable {
        var generation: Int
        var skip: Int
        var result: Result<PageFetcher.Fetched, any Error>
    }

    private static func request(_ page: (generation: Int, skip: Int), fetcher: PageFetcher, logger: Logger,
                                in group: inout ThrowingTaskGroup<Outcome, any Error>) {
        group.addTask {
            do {
                let fetched = try await fetcher.fetch(skip: page.skip, logger: logger)
                return Outcome(generation: page.generation, skip: page.skip, result: .success(fetched))
            } catch {
                return Outcome(generation: page.generation, skip: page.skip, result: .failure(error))
            }
        }
    }

    /// The window's bookkeeping, kept apart from the task group.
    struct State {
        /// The page the run needs next.
        var next: Int
        /// The next page to request.
        var scheduleFrom: Int
        var total: Int?
        let pageSize: Int
        var running = 0
        /// Pages received and not yet appended, by `skip` (at most the window's size).
        var ready: [Int: Result<PageFetcher.Fetched, any Error>] = [:]
        /// A short page in mid-run moves every later `skip`: requests made before that are of an
        /// older generation and their pages are dropped.
        var generation = 0
        var window = 1
        var clean = 0
        var requestedAny = false

        /// The pages to request now: as many as the window has room for, never past `total`,
        /// and only the first page while the total is unknown.
        mutating func due() -> [(generation: Int, skip: Int)] {
            var pages: [(generation: Int, skip: Int)] = []
            while running + ready.count < window {
                if requestedAny {
                    guard let total, scheduleFrom < total else { break }
                }
                pages.append((generation, scheduleFrom))
                requestedAny = true
                running += 1
                scheduleFrom += pageSize
                if total == nil { break }  // the first page alone, to learn the total
            }
            return pages
        }

        mutating func received(_ outcome: Outcome) {
            running -= 1
            if outcome.generation == generation { ready[outcome.skip] = outcome.result }
        }

        /// After the page at ``next`` holding `count` users was appended: move on, and widen the
        /// window after clean pages or close it after a page that needed a retry.
        mutating func consumed(_ fetched: PageFetcher.Fetched, count: Int, rampAfter: Int, maxInFlight: Int) {
            total = fetched.page.total
            if fetched.attempts > 1 {
                window = 1
                clean = 0
            } else {
                clean += 1
                if clean >= rampAfter && window < maxInFlight {
                    window = min(window * 2, maxInFlight)
                    clean = 0
                }
            }
            let following = next + count
            if count != pageSize && following < fetched.page.total {
                generation += 1
                ready.removeAll()
                scheduleFrom = following
            }
            next = following
        }
    }
}
