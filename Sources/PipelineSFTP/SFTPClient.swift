import Dispatch
import PipelineCore

/// An SFTP client over libssh2: one authenticated SSH session with the SFTP subsystem.
///
/// libssh2 blocks and is not thread-safe, so each client owns a serial `DispatchQueue` on which
/// the session is made and every call runs, one after another: use one client per concurrent
/// transfer.
///
/// Every error thrown is an ``SFTPError`` (or `CancellationError`); pass
/// ``SFTPError/classify(_:)`` to `RetryPolicy.run` and connect anew on each attempt. After a
/// connection-level failure the client refuses further calls: close it and connect again.
public final class SFTPClient: Sendable {
    public let configuration: SFTPConfiguration
    private let queue: DispatchQueue
    private let state: QueueConfined<SFTPConnection?>

    /// `host:port` of the server.
    public var endpoint: String { configuration.endpoint }

    private init(configuration: SFTPConfiguration, queue: DispatchQueue, state: QueueConfined<SFTPConnection?>) {
        self.configuration = configuration
        self.queue = queue
        self.state = state
    }

    /// Connects: TCP (bounded by `connectTimeout`), SSH handshake (bounded again by
    /// `connectTimeout`), host key against known_hosts (unknown or changed keys are refused),
    /// public-key authentication, SFTP subsystem.
    public static func connect(_ configuration: SFTPConfiguration) async throws -> SFTPClient {
        let queue = DispatchQueue(label: "PipelineSFTP.connection.\(configuration.endpoint)")
        let state = QueueConfined<SFTPConnection?>(nil, queue: queue)
        try await queue.run {
            let connection = try SFTPConnection.open(configuration)
            state.withValue { $0 = connection }
        }
        return SFTPClient(configuration: configuration, queue: queue, state: state)
    }

    /// Connects, runs `body`, and closes the client whether `body` succeeded or threw.
    public static func withConnection<T: Sendable>(
        _ configuration: SFTPConfiguration,
        _ body: (SFTPClient) async throws -> T
    ) async throws -> T {
        let client = try await connect(configuration)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    deinit {
        // A client dropped without close(): disconnect on its own queue, off the caller's thread.
        let state = self.state
        queue.async { state.withValue { $0?.close(); $0 = nil } }
    }

    /// Disconnects. Idempotent; later calls fail with ``SFTPError/Kind/closed``.
    public func close() async {
        let state = self.state
        try? await queue.run { state.withValue { $0?.close() } }
    }

    // MARK: Operations

    /// `mkdir -p`: creates `path` and any missing parents; existing directories are fine.
    public func mkdirs(_ path: String) async throws {
        try await perform("mkdirs", path) { connection, _ in try connection.mkdirs(path) }
    }

    /// What the server knows about `path` (following symlinks), or `nil` when it does not exist.
    public func stat(_ path: String) async throws -> SFTPFileInfo? {
        try await perform("stat", path) { connection, _ in try connection.stat(path) }
    }

    /// The entries of `directory` (without `.` and `..`), sorted by name.
    public func list(_ directory: String) async throws -> [SFTPEntry] {
        try await perform("list", directory) { connection, _ in try connection.list(directory) }
    }

    /// Deletes the file at `path`.
    public func remove(_ path: String) async throws {
        try await perform("remove", path) { connection, _ in try connection.remove(path) }
    }

    /// Renames `source` to `destination`; with `replacing`, over an existing file (not atomically).
    public func rename(from source: String, to destination: String, replacing: Bool = false) async throws {
        try await perform("rename", source) { connection, _ in
            try connection.rename(source, to: destination, replacing: replacing)
        }
    }

    /// Uploads `localPath` to `remotePath` safely: writes `<remotePath>.part` in 1 MiB
    /// pipelined writes, checks its size on the server against the local file, removes an
    /// existing `remotePath`, then renames `.part` into place. On failure the `.part` file is
    /// removed when the session still allows it.
    ///
    /// - Parameter progress: called on the connection's thread about once per MiB, and at the end.
    /// - Returns: the bytes sent and the time taken (from opening the local file to the rename).
    @discardableResult
    public func upload(
        localPath: String,
        remotePath: String,
        progress: (@Sendable (SFTPTransferProgress) -> Void)? = nil
    ) async throws -> SFTPTransferResult {
        try await perform("upload", remotePath) { connection, cancellation in
            try connection.upload(localPath: localPath, remotePath: remotePath, progress: progress, cancellation: cancellation)
        }
    }

    /// Writes `localPath` into `remotePath` from byte `offset` on: a remote file longer than
    /// `offset` is cut back to it first, a missing one is created; one shorter than `offset` is
    /// left alone and nothing is written (``SFTPAppendResult/appended`` is `false`). The size on
    /// the server after the write is checked. For files that grow a piece at a time and resume
    /// where the last recorded piece ended.
    ///
    /// - Parameter progress: as in ``upload(localPath:remotePath:progress:)``, for this piece.
    @discardableResult
    public func append(
        localPath: String, remotePath: String, at offset: Int,
        progress: (@Sendable (SFTPTransferProgress) -> Void)? = nil
    ) async throws -> SFTPAppendResult {
        try await perform("append", remotePath) { connection, cancellation in
            try connection.append(localPath: localPath, remotePath: remotePath, at: UInt64(max(0, offset)),
                                  progress: progress, cancellation: cancellation)
        }
    }

    /// Streams the remote file through `chunk`, a buffer (up to 1 MiB) at a time, on the
    /// connection's thread; the buffer is valid only during the call. Throwing from `chunk`
    /// stops the read and rethrows.
    @discardableResult
    public func read(
        _ remotePath: String,
        progress: (@Sendable (SFTPTransferProgress) -> Void)? = nil,
        chunk: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void
    ) async throws -> SFTPTransferResult {
        try await perform("read", remotePath) { connection, cancellation in
            try connection.read(remotePath, progress: progress, cancellation: cancellation, chunk: chunk)
        }
    }

    // MARK: Bridging to the connection's queue

    /// Runs `body` with the connection on its queue. Task cancellation raises a flag that the
    /// transfer loops check between buffers; a single blocking libssh2 call is bounded by
    /// `ioTimeout` instead.
    private func perform<T: Sendable>(
        _ operation: String, _ path: String,
        _ body: @escaping @Sendable (SFTPConnection, CancellationFlag) throws -> T
    ) async throws -> T {
        try Task.checkCancellation()
        let cancellation = CancellationFlag()
        let state = self.state
        let endpoint = self.endpoint
        return try await withTaskCancellationHandler {
            try await queue.run {
                try state.withValue { slot in
                    guard let connection = slot else {
                        throw SFTPError.closed(endpoint, operation, path)
                    }
                    return try body(connection, cancellation)
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}

/// A value that lives on one serial queue and is only touched there (checked with
/// `dispatchPrecondition`). That confinement is what makes the `@unchecked Sendable` sound: the
/// non-Sendable libssh2 wrappers inside never meet two threads at once.
final class QueueConfined<Value>: @unchecked Sendable {
    private let queue: DispatchQueue
    private var value: Value

    init(_ value: Value, queue: DispatchQueue) {
        self.value = value
        self.queue = queue
    }

    func withValue<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        dispatchPrecondition(condition: .onQueue(queue))
        return try body(&value)
    }
}
