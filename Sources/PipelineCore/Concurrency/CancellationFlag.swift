import Synchronization

/// Carries a task's cancellation to blocking work on another thread (a curl transfer's progress
/// callback, a loop on an SFTP connection's queue, a transform between batches), which cannot
/// see the task itself: set from the task's cancellation handler, checked by the work.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) }
}
