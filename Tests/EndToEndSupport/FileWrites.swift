import Foundation
import PipelineCore
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Reacts to the first write into a file of a directory within microseconds, through inotify,
/// so a chaos test can crash a process in the middle of writing a file rather than before or
/// after it: polling the file's size would miss a file that a release build writes in a few
/// milliseconds.
///
/// Made before the writer starts: it watches `directory` for `IN_MODIFY` on names that satisfy
/// `matching`, and ``firstWrite(within:then:)`` runs its action on the watching thread the
/// moment the first such write is reported.
package final class FileWrites: @unchecked Sendable {
    package let directory: String
    private let fd: Int32
    private let matching: @Sendable (String) -> Bool

    package init(in directory: String, matching: @escaping @Sendable (String) -> Bool) throws {
        self.directory = directory
        self.matching = matching
        // Stored only when watching: a throw after every property is set runs `deinit`, which
        // would close the descriptor a second time.
        let fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { throw ChildProcessError("inotify_init1: \(String(cString: strerror(errno)))") }
        guard inotify_add_watch(fd, directory, UInt32(IN_MODIFY)) >= 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ChildProcessError("inotify_add_watch \(directory): \(reason)")
        }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Waits up to `timeout` for the first write into a matching file, runs `action` with its
    /// name right away (on the watching thread, before anything else is awaited) and returns the
    /// name; `nil` when nothing was written in time.
    package func firstWrite(within timeout: Duration, then action: @escaping @Sendable (String) -> Void) async throws -> String? {
        let fd = self.fd
        let matching = self.matching
        let deadline = ContinuousClock.now + timeout
        return try await offThePool {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while ContinuousClock.now < deadline {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 50) > 0 else { continue }
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                guard count > 0 else { continue }
                // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[len]; }
                var offset = 0
                while offset + 16 <= count {
                    let length = buffer[offset + 12 ..< offset + 16].withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self)) }
                    let nameBytes = buffer[offset + 16 ..< min(offset + 16 + length, count)].prefix { $0 != 0 }
                    let name = String(decoding: nameBytes, as: UTF8.self)
                    offset += 16 + length
                    if matching(name) {
                        action(name)
                        return name
                    }
                }
            }
            return nil
        }
    }
}

extension Pipeline {
    /// Runs one extraction while `action` fires at the first write into a server file whose name
    /// ends in `suffix` (the upload under way); expects the extraction to exit 0 and the write to
    /// have come, and returns the run.
    package func extractOnce(actingAtFirstUploadOf suffix: String, _ action: @escaping @Sendable (String) -> Void) async throws -> RunID {
        let writes = try FileWrites(in: uploadDirectory) { $0.hasSuffix(suffix) }
        async let hit = writes.firstWrite(within: .seconds(180), then: action)
        let extractor = try await extractOnce()
        #expect(extractor.exitStatus == 0, "\(extractor.tail())")
        let id = try await onlyRun()
        #expect(try await hit != nil, "nothing was uploaded")
        return id
    }
}
