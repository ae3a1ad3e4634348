import PipelineHTTP
import Testing

/// Runs a request that must fail and returns its ``HTTPClientError`` (recording an issue when
/// it succeeds or fails with another error type).
func expectHTTPError(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ request: () async throws -> HTTPResponse
) async -> HTTPClientError? {
    do {
        let response = try await request()
        Issue.record("expected an HTTPClientError, got HTTP \(response.status)", sourceLocation: sourceLocation)
    } catch let error as HTTPClientError {
        return error
    } catch {
        Issue.record("expected an HTTPClientError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// `count` bytes of a repeating, position-dependent pattern, so a lost, repeated or reordered
/// chunk shows up in a comparison.
func patternBytes(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
}

/// Seconds elapsed while running `body`.
func measure<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try await body()
    return (result, clock.now - start)
}
