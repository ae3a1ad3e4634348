import Crypto
import Dispatch
import Foundation
import Logging
import PipelineCore
import PipelineJSON
import Synchronization

/// Where a transform reads and writes.
public struct TransformPaths: Sendable, Equatable {
    public var raw: String
    public var users: String
    public var dlq: String
    public var rawMasked: String

    public init(raw: String, users: String, dlq: String, rawMasked: String) {
        self.raw = raw
        self.users = users
        self.dlq = dlq
        self.rawMasked = rawMasked
    }

    /// The files of chunk `chunk` of `run` under a staging layout: all four in the chunk's folder.
    public init(layout: StagingLayout, run: RunID, chunk: Int) {
        self.init(raw: layout.chunkFile(run, chunk, .raw), users: layout.chunkFile(run, chunk, .users),
                  dlq: layout.chunkFile(run, chunk, .dlq), rawMasked: layout.chunkFile(run, chunk, .rawMasked))
    }
}

/// What one transform produced.
public struct TransformSummary: Sendable, Equatable {
    public var rows = 0
    public var valid = 0
    public var invalid = 0
    /// Valid rows whose department the table lacks (their `department_code` is `UNKNOWN`).
    public var unknownDepartment = 0
    /// Rejections per rule, keyed `rule:<field>.<rule>`.
    public var ruleCounts: [String: Int] = [:]
    /// `users.jsonl`, `dlq.jsonl`, `raw.masked.jsonl`, in that order.
    public var files: [StagedFile] = []
    public var seconds: Double = 0

    /// The ledger's `transform_counts` (docs/STAGING.md).
    public var counts: [String: Int] {
        var counts = ruleCounts
        counts["valid"] = valid
        counts["invalid"] = invalid
        counts["unknown_department"] = unknownDepartment
        return counts
    }
}

/// Turns one `raw.jsonl` (a run's chunk) into `users.jsonl`, `dlq.jsonl` and `raw.masked.jsonl`
/// (docs/STAGING.md).
///
/// Streams, in a pipeline: this thread reads lines through one buffer into batches of about
/// ``batchBytes``; up to `2 × workers` batches are validated, masked and enriched at once on
/// Dispatch's pool; this thread takes them back in line order and applies the one rule that
/// needs the rows before it (a repeated `id`, which the extractor decided: ``repeats``); then
/// each output file's own serial queue writes and hashes its part of the batch, while the kernel
/// is asked to start writing the pages out as they accumulate (so the fsync at the end is
/// short). Memory is bounded by a fixed pool of batches and the writers' buffers, whatever the
/// number of rows.
///
/// Line numbers are the run's: the file's first line is ``firstLine``.
///
/// Blocking and CPU-bound: call it from a thread of its own, not from a Swift task.
public struct FileTransform: Sendable {
    public var paths: TransformPaths
    public var rules: TransformRules
    public var context: TransformContext
    /// Batches processed in parallel; 0 or 1 processes them on the calling thread.
    public var workers: Int
    public var batchBytes: Int
    /// The expected number of rows, for the progress lines.
    public var expectedRows: Int?
    /// The longest `raw.jsonl` line read (`MAX_USER_BYTES`): a longer one fails the transform
    /// with ``StagingError/lineTooLong(path:line:limit:)`` (its line number the run's) instead of
    /// taking unbounded memory.
    public var maxLineBytes: Int
    /// The run-wide number of the file's first line (a chunk's ``SealedChunk/firstLine``).
    public var firstLine: Int
    /// The lines whose `id` an earlier line of the run had (``SealedChunk/repeats``): these, and
    /// only these, fail `id.duplicate`.
    public var repeats: [RepeatedID]
    public var logger: Logger

    public init(paths: TransformPaths, rules: TransformRules, context: TransformContext,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount, batchBytes: Int = 512 << 10,
                expectedRows: Int? = nil, maxLineBytes: Int = defaultMaxUserBytes,
                firstLine: Int = 1, repeats: [RepeatedID] = [], logger: Logger) {
        self.paths = paths
        self.rules = rules
        self.context = context
        self.workers = workers
        self.batchBytes = batchBytes
        self.expectedRows = expectedRows
        self.maxLineBytes = maxLineBytes
        self.firstLine = firstLine
        self.repeats = repeats
        self.logger = logger
    }

    /// Runs the transform; throws `CancellationError` when `cancellation` is set, leaving no
    /// `.part` file behind.
    public func run(cancellation: CancellationFlag? = nil) throws -> TransformSummary {
        let started = ContinuousClock.now
        let parallel = workers > 1
        let users = try OutputFile(path: paths.users, queueLabel: parallel ? "transform.users" : nil)
        let dlq = try OutputFile(path: paths.dlq, queueLabel: parallel ? "transform.dlq" : nil)
        let masked = try OutputFile(path: paths.rawMasked, queueLabel: parallel ? "transform.raw-masked" : nil)
        let outputs = [masked, users, dlq]
        var committed = false
        defer {
            if !committed { for output in outputs { output.abandon() } }
        }
        var merger = Merger(context: context, repeats: repeats, expectedRows: expectedRows, logger: logger)
        var reader = try JSONLReader(path: paths.raw, maxLineLength: maxLineBytes)
        let lineOffset = firstLine - 1

        // Batches being processed, oldest first; at most `maxInFlight`. The pool holds a few more,
        // for the one being filled and those the output queues are still writing.
        let maxInFlight = parallel ? workers * 2 : 1
        let pool = BatchPool(capacity: maxInFlight + 4) { [rules, context, batchBytes] in
            Batch(processor: RowProcessor(rules: rules, context: context), capacity: batchBytes)
        }
        var inFlight: [Batch] = []
        var current: Batch?
        defer {
            // On an error, never leave a worker writing into a batch after returning.
            for batch in inFlight { batch.processed.wait() }
        }
        func write(_ batch: Batch) throws {
            merger.merge(batch)
            if outputs.contains(where: \.hasFailed) {
                // A write failed: stop reading; drain() throws its error.
                pool.give(batch)
                for output in outputs { try output.drain() }
                throw CancellationError()
            }
            batch.pendingWrites.store(outputs.count, ordering: .sequentiallyConsistent)
            let release: @Sendable () -> Void = {
                if batch.pendingWrites.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 { pool.give(batch) }
            }
            masked.submit({ try batch.writeMasked(to: $0) }, finally: release)
            users.submit({ try batch.writeUsers(to: $0) }, finally: release)
            dlq.submit({ try batch.writeDLQ(to: $0) }, finally: release)
        }
        func finishOldest() throws {
            let batch = inFlight.removeFirst()
            batch.processed.wait()
            try write(batch)
        }
        func submit(_ batch: Batch) throws {
            if cancellation?.isCancelled == true {
                pool.give(batch)
                throw CancellationError()
            }
            if parallel {
                inFlight.append(batch)
                DispatchQueue.global().async {
                    batch.process()
                    batch.processed.signal()
                }
                if inFlight.count >= maxInFlight { try finishOldest() }
            } else {
                batch.process()
                try write(batch)
            }
        }

        do {
            try reader.forEachLine { number, line in
                let batch: Batch
                if let current {
                    batch = current
                } else {
                    batch = pool.take()
                    batch.start(at: lineOffset + number)
                    current = batch
                }
                batch.add(line)
                if batch.byteCount >= batchBytes {
                    current = nil
                    try submit(batch)
                }
            }
        } catch StagingError.lineTooLong(let path, let line, let limit) {
            throw StagingError.lineTooLong(path: path, line: lineOffset + line, limit: limit)
        }
        if let batch = current {
            current = nil
            try submit(batch)
        }
        while !inFlight.isEmpty { try finishOldest() }
        if cancellation?.isCancelled == true { throw CancellationError() }

        var summary = merger.summary
        let commitStarted = ContinuousClock.now
        summary.files = try [users, dlq, masked].map { try $0.commit() }
        committed = true
        summary.seconds = (ContinuousClock.now - started).seconds
        merger.logSummary(summary, commitSeconds: (ContinuousClock.now - commitStarted).seconds)
        return summary
    }
}

/// What the transformer writes for some lines, each without its newline.
public struct TransformedLines: Sendable, Equatable {
    /// `raw.masked.jsonl`: one line per input line.
    public var masked: [[UInt8]] = []
    /// `users.jsonl`: the valid rows.
    public var users: [[UInt8]] = []
    /// `dlq.jsonl`: the rejected rows.
    public var dlq: [[UInt8]] = []
}

extension FileTransform {
    /// Transforms `lines` (as ``JSONLReader`` yields them: no newline inside; the first numbered
    /// `firstLine`, with ``repeats`` as for a file) in memory, through the same row processing
    /// and merge as ``run(cancellation:)``, minus the files. The fuzz target `TransformFuzz`
    /// (docs/RELIABILITY.md, "Fuzzing") drives it; it is not for transforming runs.
    public static func transform(lines: [[UInt8]], rules: TransformRules, context: TransformContext,
                                 firstLine: Int = 1, repeats: [RepeatedID] = [], logger: Logger) -> TransformedLines {
        let batch = Batch(processor: RowProcessor(rules: rules, context: context),
                          capacity: lines.reduce(0) { $0 + $1.count })
        batch.start(at: firstLine)
        for line in lines { line.withUnsafeBytes { batch.add($0) } }
        batch.process()
        var merger = Merger(context: context, repeats: repeats, expectedRows: nil, logger: logger)
        merger.merge(batch)
        var out = TransformedLines()
        out.masked = batch.buffers.results.map { Array(batch.buffers.masked[$0.masked]) }
        out.users = batch.userLines.map { Array(batch.buffers.users[$0]) }
        out.dlq = batch.dlqLines.map { Array(batch.dlqBytes[$0]) }
        return out
    }
}

/// Batches to reuse, handed between the reading thread and the output queues.
final class BatchPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var free: [Batch] = []
    private var created = 0
    private let capacity: Int
    private let make: @Sendable () -> Batch

    init(capacity: Int, make: @escaping @Sendable () -> Batch) {
        self.capacity = capacity
        self.make = make
    }

    /// A free batch; waits while all `capacity` of them are in use.
    func take() -> Batch {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty {
            if created < capacity {
                created += 1
                return make()
            }
            condition.wait()
        }
        return free.removeLast()
    }

    func give(_ batch: Batch) {
        condition.lock()
        free.append(batch)
        condition.signal()
        condition.unlock()
    }
}

/// A run of consecutive lines and what became of them. It passes from the reading thread to one
/// worker (``process()``, ordered by ``processed``), back to the reading thread (the merge),
/// then to the three output queues at once, which only read it.
final class Batch: @unchecked Sendable {
    private(set) var firstLine = 0
    private var input: [UInt8] = []
    private var ends: [Int] = []
    var buffers = RowBuffers()
    private var processor: RowProcessor
    let processed = DispatchSemaphore(value: 0)
    /// Output queues still writing from this batch.
    let pendingWrites = Atomic<Int>(0)
    /// Set by the merge: the rows for users.jsonl (ranges of ``RowBuffers/users``) and the
    /// finished dlq.jsonl lines.
    var userLines: [Range<Int>] = []
    var dlqBytes: [UInt8] = []
    var dlqLines: [Range<Int>] = []

    init(processor: RowProcessor, capacity: Int) {
        self.processor = processor
        input.reserveCapacity(capacity + (capacity >> 2))
    }

    var byteCount: Int { input.count }

    func start(at line: Int) {
        firstLine = line
        input.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    func add(_ line: UnsafeRawBufferPointer) {
        input.append(contentsOf: line)
        ends.append(input.count)
    }

    /// Validates, masks and enriches every line.
    func process() {
        buffers.removeAll()
        userLines.removeAll(keepingCapacity: true)
        dlqBytes.removeAll(keepingCapacity: true)
        dlqLines.removeAll(keepingCapacity: true)
        input.withUnsafeBytes { all in
            var start = 0
            for (k, end) in ends.enumerated() {
                processor.process(line: firstLine + k, UnsafeRawBufferPointer(rebasing: all[start..<end]), into: &buffers)
                start = end
            }
        }
    }

    func writeMasked(to writer: StagedFileWriter) throws { try Self.write(buffers.masked, buffers.results.lazy.map { $0.masked }, to: writer) }
    func writeUsers(to writer: StagedFileWriter) throws { try Self.write(buffers.users, userLines, to: writer) }
    func writeDLQ(to writer: StagedFileWriter) throws { try Self.write(dlqBytes, dlqLines, to: writer) }

    private static func write(_ bytes: [UInt8], _ lines: some Sequence<Range<Int>>, to writer: StagedFileWriter) throws {
        try bytes.withUnsafeBytes { all in
            for range in lines { try writer.appendLine(UnsafeRawBufferPointer(rebasing: all[range])) }
        }
    }
}

/// Decides each processed row in line order: the duplicate-id rule, the DLQ lines, the counts,
/// the progress lines and the unknown-department warnings.
struct Merger {
    let context: TransformContext
    let expectedRows: Int?
    let logger: Logger
    private(set) var summary = TransformSummary()
    /// The repeated ids by line, in line order, and the first not yet reached: rows arrive in
    /// line order, so each is one comparison.
    private let repeats: [RepeatedID]
    private var nextRepeat = 0
    private var unknownNamesLogged: Set<String> = []
    private let started = ContinuousClock.now
    private var lastProgress = ContinuousClock.now
    private let dlqRunID: [UInt8]
    private let dlqTail: [UInt8]

    /// Different unknown department names logged one by one; more are only counted.
    static let unknownNamesLogLimit = 1000

    init(context: TransformContext, repeats: [RepeatedID], expectedRows: Int?, logger: Logger) {
        self.context = context
        self.repeats = repeats.sorted { $0.line < $1.line }
        self.expectedRows = expectedRows
        self.logger = logger
        var runID: [UInt8] = []
        runID.append(",\"run_id\":")
        runID.appendJSONString(context.runID)
        runID.append(",\"reasons\":[")
        dlqRunID = runID
        var tail: [UInt8] = []
        tail.append("\",\"transformed_at\":")
        tail.appendJSONString(context.transformedAt)
        tail.append(UInt8(ascii: "}"))
        dlqTail = tail
    }

    mutating func merge(_ batch: Batch) {
        for result in batch.buffers.results {
            var failures = result.failures
            while nextRepeat < repeats.count && repeats[nextRepeat].line < result.line { nextRepeat += 1 }
            if nextRepeat < repeats.count && repeats[nextRepeat].line == result.line {
                let id = repeats[nextRepeat].id
                failures.insert(RowFailure(field: "id", rule: "duplicate", message: "id \(id) appears on an earlier line"), at: 0)
            }
            summary.rows += 1
            if failures.isEmpty {
                summary.valid += 1
                batch.userLines.append(result.user)
                if let name = result.unknownDepartment { noteUnknownDepartment(name, line: result.line) }
            } else {
                summary.invalid += 1
                for failure in failures { summary.ruleCounts[failure.countKey, default: 0] += 1 }
                let start = batch.dlqBytes.count
                batch.buffers.masked.withUnsafeBytes { appendDLQ(result, failures, payload: UnsafeRawBufferPointer(rebasing: $0[result.masked]), to: &batch.dlqBytes) }
                batch.dlqLines.append(start..<batch.dlqBytes.count)
            }
            if summary.rows % 10_000 == 0 { logProgress() }
        }
        if ContinuousClock.now - lastProgress >= .seconds(1) { logProgress() }
    }

    private func appendDLQ(_ result: RowResult, _ failures: [RowFailure], payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append("{\"line\":")
        out.appendInt(result.line)
        out.append(contentsOf: dlqRunID)
        for (k, failure) in failures.enumerated() {
            out.append(k == 0 ? "{\"field\":" : ",{\"field\":")
            out.appendJSONString(failure.field)
            out.append(",\"rule\":")
            out.appendJSONString(failure.rule)
            out.append(",\"message\":")
            out.appendJSONString(failure.message)
            out.append(UInt8(ascii: "}"))
        }
        out.append("],\"payload\":")
        out.append(payload)
        out.append(",\"record_hash\":\"")
        RowProcessor.appendHex(result.hash, &out)
        out.append(contentsOf: dlqTail)
    }

    private mutating func noteUnknownDepartment(_ name: String, line: Int) {
        summary.unknownDepartment += 1
        guard unknownNamesLogged.count < Self.unknownNamesLogLimit, !unknownNamesLogged.contains(name) else { return }
        unknownNamesLogged.insert(name)
        logger.warning("department not in the departments table; its rows get department_code UNKNOWN", metadata: [
            "department": "\(name)", "first_line": "\(line)",
        ])
        if unknownNamesLogged.count == Self.unknownNamesLogLimit {
            logger.warning("\(Self.unknownNamesLogLimit) unknown department names logged; further ones are only counted")
        }
    }

    private mutating func logProgress() {
        let now = ContinuousClock.now
        lastProgress = now
        let seconds = (now - started).seconds
        var metadata: Logger.Metadata = [
            "rows": "\(summary.rows)", "valid": "\(summary.valid)", "invalid": "\(summary.invalid)",
            "rows_per_s": "\(Int(Double(summary.rows) / max(seconds, 0.001)))",
        ]
        if let expectedRows, expectedRows > 0 {
            metadata["of"] = "\(expectedRows)"
            metadata["percent"] = "\(summary.rows * 100 / expectedRows)"
        }
        logger.info("transforming", metadata: metadata)
    }

    func logSummary(_ summary: TransformSummary, commitSeconds: Double) {
        let rules = summary.ruleCounts.sorted { $0.key < $1.key }
            .map { "\($0.key.dropFirst("rule:".count))=\($0.value)" }.joined(separator: ",")
        let bytes = summary.files.reduce(0) { $0 + $1.bytes }
        logger.info("transform summary", metadata: [
            "rows": "\(summary.rows)", "valid": "\(summary.valid)", "invalid": "\(summary.invalid)",
            "unknown_department": "\(summary.unknownDepartment)", "rejections": "\(rules.isEmpty ? "none" : rules)",
            "seconds": "\(String(format: "%.2f", summary.seconds))",
            "rows_per_s": "\(Int(Double(summary.rows) / max(summary.seconds, 0.001)))",
            "bytes_written": "\(bytes)", "commit_ms": "\(Int(commitSeconds * 1000))",
        ])
    }
}
