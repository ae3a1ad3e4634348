/// Polls `condition` every 50 ms until it holds or `limit` passes; returns whether it held.
///
/// For waiting on another process (a stage, a server) whose progress the test can only
/// observe; the limit only separates "did not happen" from "hangs", so make it generous.
public func eventually(within limit: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
