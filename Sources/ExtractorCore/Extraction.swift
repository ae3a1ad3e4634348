import Foundation
import Logging
import PipelineCore
import PipelineHTTP
import PipelineRedis
import PipelineRuntime

/// One extraction cycle: resume the newest run whose extraction did not finish, or start a new
/// one; page through the upstream, cutting the users into chunks that are sealed and announced
/// as soon as they are full (``ChunkSealer``); then record the run as `extracted` and publish
/// `channel:phase1_complete`.
///
/// Nothing is lost or duplicated whatever fails when: a page is appended only whole, the
/// checkpoint (next `skip`, durable byte offset in the open chunk) is written after the fsync,
/// together with the chunks sealed since the last one, and a resumed run truncates the open
/// chunk to the checkpoint's offset before fetching the checkpoint's `skip` again.
public struct Extraction: Sendable {
    let settings: ExtractorSettings
    let fetcher: PageFetcher
    let ledger: RunLedger
    let claims: RunClaims
    let publisher: SignalPublisher
    let bounds: RunBounds
    let logger: Logger

    public init(settings: ExtractorSettings, http: any HTTPClient, redis: RedisClient, logger: Logger,
                sleep: @escaping PageFetcher.Sleep = { try await Task.sleep(for: $0) }) {
        self.settings = settings
        self.fetcher = PageFetcher(http: http, settings: settings, sleep: sleep)
        self.ledger = RunLedger(redis: redis)
        self.claims = RunClaims(redis: redis, instance: settings.instanceID, ttl: settings.claimTTL)
        self.publisher = SignalPublisher(redis: redis)
        self.bounds = RunBounds(settings: settings)
        self.logger = logger
    }

    public enum Outcome: Sendable, Equatable {
        /// The run's chunks' raw files.
        case extracted(RunID, [StagedFile])
        /// Another replica holds the run's claim.
        case busy(RunID)
    }

    /// Runs one cycle. Throws ``ExtractionFailed`` (after recording the failure in the ledger and
    /// publishing `channel:run_failed`) when the run cannot be extracted.
    ///
    /// - Parameter takingOver: the first cycle after start-up: take over at once a claim that an
    ///   earlier life of this instance left (``RunClaims``), instead of waiting for it to expire.
    public func runCycle(takingOver: Bool = false) async throws -> Outcome {
        let resumable = try await ledger.unfinishedExtraction()
        let id: RunID
        if let resumable {
            id = resumable.id
        } else {
            id = RunID()
            _ = try await ledger.startRun(id, chunkUsers: settings.chunkUsers)
        }
        var runLogger = logger
        runLogger[metadataKey: "run_id"] = "\(id)"
        let log = runLogger
        // A claim still held is either a live replica at work or one that died (its claim
        // expires within the TTL): wait up to twice the TTL before leaving the run to it, so a
        // restarted extractor resumes its own crashed run instead of skipping a whole cycle.
        let deadline = ContinuousClock.now + claims.ttl * 2
        var waited = false
        while true {
            let result = try await claims.withClaim(.extract, run: id, takingOver: takingOver) { [self] () async throws -> [StagedFile]? in
                // Re-read under the claim: whoever held it may have finished or moved the run on.
                guard let current = try await ledger.run(id), RunLedger.isUnfinishedExtraction(current) else {
                    return nil
                }
                return try await extract(id, resuming: current, logger: log)
            }
            switch result {
            case .some(.some(let staged)):
                return .extracted(id, staged)
            case .some(.none):
                log.info("the run was extracted by another extractor meanwhile")
                return .busy(id)
            case .none:
                guard ContinuousClock.now < deadline else {
                    log.info("another extractor holds this run; leaving it this cycle")
                    return .busy(id)
                }
                if !waited {
                    log.info("the run is claimed by another extractor, or by one that died; waiting for the claim to expire",
                             metadata: ["ttl_s": "\(claims.ttl.seconds)"])
                    waited = true
                }
                try await Task.sleep(for: claims.ttl / 6)
            }
        }
    }

    private func extract(_ id: RunID, resuming record: RunRecord?, logger: Logger) async throws -> [StagedFile] {
        // Counted under the claim, before any work: see CrashLoop. A failure the extraction
        // recorded (ExtractionFailed) has cleared the count itself.
        let counted = CountedAttempt(phase: .extract, ledger: ledger, publisher: publisher, owner: claims.owner)
        switch try await counted.run(id, logger: logger, isRecorded: { $0 is ExtractionFailed }, {
            try await attempt(id, resuming: record, logger: logger)
        }) {
        case .done(let staged):
            return staged
        case .refused(let loop):
            throw ExtractionFailed(run: id, reason: loop.description)
        }
    }

    private func attempt(_ id: RunID, resuming record: RunRecord?, logger: Logger) async throws -> [StagedFile] {
        try await ledger.beginPhase(.extract, run: id)
        let started = ContinuousClock.now
        var sealer: ChunkSealer?
        defer { sealer?.close() }
        do {
            if let checkpoint = record?.checkpoint, let reason = bounds.check(checkpoint) {
                throw ExtractionFailed(run: id, reason: reason)
            }
            let chunks = try ChunkSealer(
                run: id, record: record, chunkUsers: settings.chunkUsers, layout: settings.staging.layout, ledger: ledger,
                publisher: publisher, maxLineBytes: settings.maxUserBytes, logger: logger)
            sealer = chunks
            var pages = 0
            var expectedTotal = record?.checkpoint?.total
            let pageSize = settings.pageSize
            let bounds = self.bounds
            if !chunks.isComplete {
                let window = PageWindow(fetcher: fetcher, pageSize: pageSize, maxInFlight: settings.pagesInFlight)
                try await window.run(from: chunks.resumeSkip, total: expectedTotal, logger: logger, .init(
                    validate: { fetched, skip in
                        let page = fetched.page
                        // Before anything is derived from the page's numbers (page counts, next skips).
                        if let reason = bounds.check(total: page.total) {
                            throw ExtractionFailed(run: id, reason: reason)
                        }
                        if let expected = expectedTotal, page.total != expected {
                            throw ExtractionFailed(run: id, reason: "upstream total changed from \(expected) to \(page.total) at skip=\(skip)")
                        }
                        if let reason = bounds.check(page, requestedSkip: skip) {
                            throw ExtractionFailed(run: id, reason: reason)
                        }
                        if page.users.isEmpty && skip < page.total {
                            throw ExtractionFailed(run: id, reason: "upstream returned an empty page at skip=\(skip) before total=\(page.total)")
                        }
                        expectedTotal = page.total
                        return page.users.count
                    },
                    append: { fetched, skip in
                        for (range, userID) in zip(fetched.page.users, fetched.page.ids) {
                            try chunks.append(fetched.body[range], id: userID)
                        }
                        chunks.endPage()
                        pages += 1
                        let pageCount = (fetched.page.total + pageSize - 1) / pageSize
                        logger.info("page \(skip / pageSize + 1)/\(pageCount)", metadata: [
                            "skip": "\(skip)", "users": "\(fetched.page.users.count)", "bytes": "\(fetched.body.count)",
                            "ms": "\(Int(fetched.elapsed.seconds * 1000))",
                        ])
                    },
                    checkpoint: { nextSkip, total in
                        try await chunks.checkpoint(nextSkip: nextSkip, total: total)
                    }))
            }
            let files = chunks.files
            let rows = files.reduce(0) { $0 + $1.rows }
            let signal = try await ledger.completePhase(.extract, run: id, files: files, counts: ["extracted": rows])
            await publisher.publish(signal, on: .phase1Complete, logger: logger)
            let seconds = (ContinuousClock.now - started).seconds
            logger.info("extraction complete", metadata: [
                "users": "\(rows)", "pages": "\(pages)", "chunks": "\(files.count)", "bytes": "\(files.reduce(0) { $0 + $1.bytes })",
                "seconds": "\(String(format: "%.2f", seconds))", "users_per_s": "\(Int(Double(rows) / max(seconds, 0.001)))",
            ])
            return files
        } catch is CancellationError {
            logger.info("extraction interrupted; the next start resumes it from its checkpoint")
            throw CancellationError()
        } catch let lost as ClaimLost {
            throw lost
        } catch {
            // The reason is logged, stored in the ledger and served by the API: any URL it quotes
            // is shown redacted (the page URLs already are; this covers every other error).
            var failure = (error as? ExtractionFailed) ?? ExtractionFailed(run: id, reason: "\(error)")
            failure.reason = URLRedaction.redactURLs(in: failure.reason)
            logger.error("extraction failed", metadata: ["error": "\(failure.reason)"])
            let signal = try await ledger.failPhase(.extract, run: id, error: failure.reason)
            await publisher.publish(signal, on: .runFailed, logger: logger)
            throw failure
        }
    }
}

/// A run's extraction failed; the ledger records `reason` as the run's error.
public struct ExtractionFailed: Error, CustomStringConvertible {
    public var run: RunID
    public var reason: String
    public var description: String { "extraction of run \(run) failed: \(reason)" }
}
