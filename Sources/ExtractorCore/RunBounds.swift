import PipelineCore

/// The limits an upstream's answers must stay within before the extractor does any arithmetic
/// with them (docs/RELIABILITY.md, "Hostile input").
///
/// The envelope's numbers come from the network: a `total` of `Int.max` would overflow the
/// page count and the next `skip`, and trap (a crash loop, since the next start fetches the
/// same page). Every check here is a comparison against a bound, never a sum that could
/// overflow; once a page passes, `total <= maxUsers` (at most 10^12 by
/// ``ExtractorSettings``), `skip <= total` and the users it holds are at most the page size, so
/// every sum the extraction makes afterwards is far from `Int.max`.
struct RunBounds: Sendable {
    /// `MAX_USERS_PER_RUN`.
    let maxUsers: Int
    /// `MAX_USER_BYTES`.
    let maxUserBytes: Int
    /// `PAGE_SIZE`: the `limit` every request asks for.
    let pageSize: Int

    init(settings: ExtractorSettings) {
        maxUsers = settings.maxUsersPerRun
        maxUserBytes = settings.maxUserBytes
        pageSize = settings.pageSize
    }

    /// Why the page fetched for `requestedSkip` must fail the run, or `nil` when it is within bounds.
    func check(_ page: UsersPage, requestedSkip: Int) -> String? {
        if let reason = check(total: page.total) { return reason }
        guard page.skip == requestedSkip else {
            return "upstream answered skip=\(page.skip) to a request for skip=\(requestedSkip)"
        }
        guard page.users.count <= pageSize else {
            return "upstream returned \(page.users.count) users at skip=\(requestedSkip), more than the \(pageSize) asked for (PAGE_SIZE)"
        }
        // requestedSkip <= total here (nothing past total is requested), so no overflow.
        guard page.users.count <= page.total - min(requestedSkip, page.total) else {
            return "upstream returned \(page.users.count) users at skip=\(requestedSkip), past its total of \(page.total)"
        }
        for (index, range) in page.users.enumerated() where range.count > maxUserBytes {
            return "user \(index + 1) of the page at skip=\(requestedSkip) is \(range.count) bytes, over MAX_USER_BYTES \(maxUserBytes)"
        }
        return nil
    }

    /// Why an upstream `total` must fail the run, or `nil`.
    func check(total: Int) -> String? {
        guard total >= 0 else { return "upstream total \(total) is negative" }
        guard total <= maxUsers else { return "upstream total \(total) exceeds MAX_USERS_PER_RUN \(maxUsers)" }
        return nil
    }

    /// Why a checkpoint read back from the ledger cannot be resumed from, or `nil`.
    func check(_ checkpoint: RunRecord.Checkpoint) -> String? {
        if let reason = check(total: checkpoint.total) { return "checkpoint: \(reason)" }
        guard checkpoint.skip >= 0, checkpoint.skip <= checkpoint.total, checkpoint.offset >= 0 else {
            return "checkpoint out of bounds: skip=\(checkpoint.skip) offset=\(checkpoint.offset) total=\(checkpoint.total)"
        }
        return nil
    }
}
