#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One file encrypted in the age v1 format (age-encryption.org/v1) by Debian's `age` tool, fed
/// a piece at a time: ``encrypt(fileAt:into:)`` per piece of plaintext, ``finish(into:)`` once
/// after the last. The ciphertext that comes out while a piece goes in is handed to the sink, so
/// the concatenation of everything the sinks got is one age file that `age --decrypt` reads.
///
/// The tool, not code of ours, does the cryptography. It writes a 64 KiB payload chunk once it
/// knows whether more follows, so the last (up to) 64 KiB of what went in comes out with the
/// next piece or at the end. Each call waits for exactly the ciphertext its input completes, so
/// the pieces, and the sizes a caller records, do not depend on timing. Memory here is two
/// fixed buffers at any file size.
///
/// The stream lives in the child process: it cannot be resumed by another process or after a
/// failure. A caller that loses it starts the file again with a new encryptor (a new file key).
/// Used by one task at a time; blocking, so run it off the cooperative pool.
public final class AgeEncryptor: Sendable {
    public let recipients: [AgeRecipient]
    /// How long the tool may neither take input nor give output before the stream fails.
    public let stallTimeout: Duration
    private let state: Mutex<State>

    private struct State: ~Copyable {
        var process: AgeProcess?
        var errorText: [UInt8] = []
        /// Plaintext bytes fed so far, and ciphertext bytes handed out.
        var fed = 0
        var produced = 0
        /// The header's length once it has come out (its first bytes until then).
        var headerLength: Int?
        var headerStart: [UInt8] = []

        /// The ciphertext `fed` plaintext bytes complete, while more may follow: the header, the
        /// 16-byte nonce, and every full chunk that has plaintext after it. Nil before the header.
        var expected: Int? {
            headerLength.map { $0 + 16 + (fed == 0 ? 0 : (fed - 1) / AgeEncryptor.chunkSize) * (AgeEncryptor.chunkSize + 16) }
        }
    }

    private static let bufferSize = 256 * 1024
    private static let errorTextLimit = 4096
    /// The age v1 payload chunk (STREAM), before its 16-byte tag.
    static let chunkSize = 64 * 1024

    /// Starts `age --encrypt` to `recipients`.
    public init(recipients: [AgeRecipient], tool: String = "age", stallTimeout: Duration = .seconds(30)) throws(AgeError) {
        guard !recipients.isEmpty else { throw AgeError.noRecipients }
        _ = ignoreSIGPIPE
        self.recipients = recipients
        self.stallTimeout = stallTimeout
        let process = try AgeProcess(arguments: [tool, "--encrypt"] + recipients.flatMap { ["-r", $0.encoded] })
        state = Mutex(State(process: process))
    }

    /// Encrypts the whole file at `path` as the next piece of plaintext, handing `sink` the
    /// ciphertext it completes. Returns the ciphertext bytes handed over. A failure (the file, the
    /// tool, the sink) ends the stream.
    @discardableResult
    public func encrypt(fileAt path: String, into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let file = open(path, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { throw AgeError.system(call: "open \(path)", errno: errno) }
        defer { close(file) }
        return try state.withLock { state in
            guard let process = state.process else { throw AgeError.closed }
            do {
                return try pump(process, &state, input: file, sink: sink)
            } catch {
                state.process = nil
                throw error
            }
        }
    }

    /// Ends the plaintext: the tool writes its last chunk, and the stream is complete once it
    /// exits with status 0. Returns the ciphertext bytes handed to `sink`.
    @discardableResult
    public func finish(into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        try state.withLock { state in
            guard let process = state.process else { throw AgeError.closed }
            defer { state.process = nil }
            process.closeInput()
            let sent = try pump(process, &state, input: nil, sink: sink)
            if let status = try process.wait() {
                throw AgeError.toolFailed(status: status, message: Self.text(state.errorText))
            }
            return sent
        }
    }

    /// Stops the tool and discards the stream (a file abandoned midway).
    public func cancel() {
        state.withLock { $0.process = nil }
    }

    /// Moves bytes until the input is written and the ciphertext it completes has come out, or,
    /// with no input, until the tool closes its output.
    private func pump(
        _ process: AgeProcess, _ state: inout State, input: Int32?, sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
        let plaintext = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
        defer {
            buffer.deallocate()
            plaintext.deallocate()
        }
        var sent = 0
        var pending = 0..<0
        var inputDone = input == nil
        var outputDone = false
        var errorsOpen = true
        let timeout = Int32(clamping: stallTimeout.components.seconds * 1000)

        func finished() -> Bool {
            if input == nil { return outputDone }
            guard inputDone && pending.isEmpty, let expected = state.expected else { return false }
            return state.produced >= expected
        }

        while !finished() {
            if pending.isEmpty, !inputDone, let input {
                let count = read(input, plaintext.baseAddress, Self.bufferSize)
                guard count >= 0 else {
                    if errno == EINTR { continue }
                    throw AgeError.system(call: "read", errno: errno)
                }
                if count == 0 { inputDone = true; continue }
                pending = 0..<count
            }
            var fds = [
                pollfd(fd: process.output, events: Int16(POLLIN), revents: 0),
                pollfd(fd: errorsOpen ? process.errors : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: pending.isEmpty ? -1 : process.input, events: Int16(POLLOUT), revents: 0),
            ]
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                throw AgeError.system(call: "poll", errno: errno)
            }
            if ready == 0 { throw AgeError.stalled(seconds: Int(stallTimeout.components.seconds)) }

            if fds[1].revents != 0 { errorsOpen = drainErrors(process, into: &state.errorText) }
            if fds[0].revents != 0 {
                let count = read(process.output, buffer.baseAddress, Self.bufferSize)
                if count > 0 {
                    let out = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                    if state.headerLength == nil { try findHeaderEnd(in: out, &state) }
                    try sink(out)
                    sent += count
                    state.produced += count
                } else if count == 0 {
                    guard input == nil else { throw try failure(process, &state) }
                    outputDone = true
                } else if errno != EAGAIN && errno != EINTR {
                    throw AgeError.system(call: "read", errno: errno)
                }
            }
            if fds[2].revents & Int16(POLLOUT) != 0 {
                let count = write(process.input, plaintext.baseAddress! + pending.lowerBound, pending.count)
                if count > 0 {
                    pending = (pending.lowerBound + count)..<pending.upperBound
                    state.fed += count
                } else if count < 0 && errno == EPIPE {
                    throw try failure(process, &state)
                } else if count < 0 && errno != EAGAIN && errno != EINTR {
                    throw AgeError.system(call: "write", errno: errno)
                }
            } else if fds[2].revents != 0 {
                throw try failure(process, &state)
            }
        }
        return sent
    }

    /// Finds where the header ends in the first bytes out: after the line that starts `--- `
    /// (its MAC), which follows the version line and the recipients' stanzas.
    private func findHeaderEnd(in out: UnsafeRawBufferPointer, _ state: inout State) throws {
        state.headerStart += out.prefix(Self.bufferSize)
        let bytes = state.headerStart
        if let mac = bytes.firstRange(of: Array("\n--- ".utf8)), let end = bytes[mac.upperBound...].firstIndex(of: UInt8(ascii: "\n")) {
            state.headerLength = end + 1
            state.headerStart = []
        } else if bytes.count > Self.bufferSize {
            throw AgeError.toolFailed(status: "wrote no age header in its first \(bytes.count) bytes", message: Self.text(state.errorText))
        }
    }

    /// The tool stopped reading or closed its output early: it exited; say how and why.
    private func failure(_ process: AgeProcess, _ state: inout State) throws -> AgeError {
        process.closeInput()
        let status = try process.wait()
        drainErrors(process, into: &state.errorText)
        return AgeError.toolFailed(status: status ?? "exited early", message: Self.text(state.errorText))
    }

    /// Reads what the tool wrote to standard error (the first 4 KiB are kept); false once it
    /// closed it.
    @discardableResult
    private func drainErrors(_ process: AgeProcess, into text: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(process.errors, $0.baseAddress, $0.count) }
            guard count > 0 else { return count < 0 }
            if text.count < Self.errorTextLimit { text += chunk[0..<min(count, Self.errorTextLimit - text.count)] }
        }
    }

    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n").joined(separator: "; ")
    }
}

/// Writing to a tool that has exited raises SIGPIPE; ignored so that it is an EPIPE here.
private let ignoreSIGPIPE: Void = {
    _ = signal(SIGPIPE, SIG_IGN)
}()
