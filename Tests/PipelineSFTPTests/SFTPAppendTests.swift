import Foundation
import PipelineSFTP
import TestSupport
import Testing

/// Appends at an offset, against the real sshd, checked on the server's disk.
@Suite("SFTP appends", .sharedServer)
struct SFTPAppendTests {
    let server = SFTPTestServer.current

    @Test("append writes at the offset, cuts a longer file back first, and leaves a shorter one alone; truncate cuts back")
    func appendAtOffset() async throws {
        try await server.withScratch("append") { client, local, remote, onDisk in
            try "first\n".write(toFile: local + "/a", atomically: true, encoding: .utf8)
            try "second\n".write(toFile: local + "/b", atomically: true, encoding: .utf8)
            let path = remote + "/grows.part"
            let file = onDisk + "/grows.part"
            func content() throws -> String { try String(contentsOfFile: file, encoding: .utf8) }

            // Missing file at offset 0: created.
            let created = try await client.append(localPath: local + "/a", remotePath: path, at: 0)
            #expect(created == SFTPAppendResult(sizeFound: 0, appended: true, bytes: 6, elapsed: created.elapsed))
            try await client.append(localPath: local + "/b", remotePath: path, at: 6)
            #expect(try content() == "first\nsecond\n")

            // A tail beyond the offset (an interrupted append) is cut off before writing.
            let handle = try #require(FileHandle(forWritingAtPath: file))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("{\"half".utf8))
            try handle.close()
            let cut = try await client.append(localPath: local + "/b", remotePath: path, at: 6)
            #expect(cut.sizeFound == 19 && cut.appended)
            #expect(try content() == "first\nsecond\n")

            // Shorter than the offset: nothing is written, the size found is reported.
            let short = try await client.append(localPath: local + "/b", remotePath: path, at: 100)
            #expect(short.sizeFound == 13 && !short.appended && short.bytes == 0)
            #expect(try content() == "first\nsecond\n")
        }
    }
}
