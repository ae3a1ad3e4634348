import Synchronization

/// Carries a task's cancellation to a blocking loop on the connection's queue, which cannot
/// see the task itself: the loop checks the flag between writes or reads.
final class CancellationFlag: Sendable {
    private let state = Atomic<Bool>(false)

    func cancel() { state.store(true, ordering: .relaxed) }

    var isCancelled: Bool { state.load(ordering: .relaxed) }
}
