import Foundation
import PipelineSFTP
import TestSupport
import Testing

/// Uploads and reads against the real sshd (scripts/sftp.sh on 127.0.0.1:12222),
/// checked on the server's disk.
@Suite("SFTP uploads", .sharedServer)
struct SFTPUploadTests {
    let server = SFTPTestServer.current

    @Test("a 100 MB upload arrives byte for byte, with no .part left")
    func largeUploadMatchesChecksum() async throws {
        try await server.withScratch("large") { client, local, remote, onDisk in
            let size = 100_000_000
            let source = local + "/random.bin"
            try await SFTPTestFiles.writeRandomFile(source, size: size)
            let recorder = ProgressRecorder()
            let result = try await client.upload(localPath: source, remotePath: remote + "/random.bin", progress: recorder.record)

            #expect(result.bytes == Int64(size))
            #expect(result.remotePath == remote + "/random.bin")
            #expect(result.elapsed > .zero)
            let expected = try await sha256sum(source)
            #expect(try await sha256sum(onDisk + "/random.bin") == expected)
            #expect(try FileManager.default.contentsOfDirectory(atPath: onDisk) == ["random.bin"])

            let reports = recorder.all
            #expect(reports.count >= 90)
            #expect(reports.last?.bytesTransferred == Int64(size))
            #expect(reports.allSatisfy { $0.totalBytes == Int64(size) })
        }
    }

    @Test("uploading onto an existing file replaces it")
    func uploadReplacesExistingFile() async throws {
        try await server.withScratch("replace") { client, local, remote, onDisk in
            try Data("first version, longer than the second\n".utf8).write(to: URL(fileURLWithPath: local + "/a.jsonl"))
            try Data("second\n".utf8).write(to: URL(fileURLWithPath: local + "/b.jsonl"))
            try await client.upload(localPath: local + "/a.jsonl", remotePath: remote + "/run_users.jsonl")
            #expect(try String(contentsOfFile: onDisk + "/run_users.jsonl", encoding: .utf8) == "first version, longer than the second\n")
            let second = try await client.upload(localPath: local + "/b.jsonl", remotePath: remote + "/run_users.jsonl")
            #expect(second.bytes == 7)
            #expect(try await client.stat(remote + "/run_users.jsonl")?.size == 7)
            #expect(try String(contentsOfFile: onDisk + "/run_users.jsonl", encoding: .utf8) == "second\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: onDisk) == ["run_users.jsonl"])
        }
    }

    @Test("an empty file uploads as an empty file")
    func emptyFileUpload() async throws {
        try await server.withScratch("empty") { client, local, remote, onDisk in
            _ = FileManager.default.createFile(atPath: local + "/empty.jsonl", contents: Data())
            let result = try await client.upload(localPath: local + "/empty.jsonl", remotePath: remote + "/empty.jsonl")
            #expect(result.bytes == 0)
            let attributes = try FileManager.default.attributesOfItem(atPath: onDisk + "/empty.jsonl")
            #expect((attributes[.size] as? Int) == 0)
        }
    }

    @Test("read streams a remote file's exact bytes; a missing file is an error naming it")
    func readStreamsRemoteFile() async throws {
        try await server.withScratch("read") { client, _, remote, onDisk in
            let content = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            try content.write(to: URL(fileURLWithPath: onDisk + "/blob.bin"))
            let collector = ByteCollector()
            let result = try await client.read(remote + "/blob.bin") { collector.append($0) }
            #expect(result.bytes == Int64(content.count))
            #expect(collector.data == content)

            let error = try #require(await sftpError { try await client.read(remote + "/missing.bin") { _ in } })
            #expect(error.kind == .remote)
            #expect(error.sftpStatus == .noSuchFile)
            #expect(error.description.contains("read of \"\(remote)/missing.bin\""))
            #expect(error.description.contains(server.endpoint))
            #expect(error.description.contains("no such file"))
            #expect(error.retryDecision == .fail)
        }
    }

    @Test("a local file that does not exist fails before anything is sent")
    func missingLocalFile() async throws {
        try await server.withScratch("nolocal") { client, _, remote, _ in
            let error = try #require(await sftpError {
                try await client.upload(localPath: "/nonexistent/users.jsonl", remotePath: remote + "/users.jsonl")
            })
            #expect(error.kind == .localFile)
            #expect(error.description.contains("/nonexistent/users.jsonl"))
            #expect(error.description.contains("no such file or directory"))
            #expect(try await client.list(remote).isEmpty)
        }
    }

    /// sshd's default `MaxStartups 10:30:100` drops new connections at random once ten have not
    /// logged in yet, which a parallel test run reaches (seen in CI as "Failed getting banner");
    /// the test server (scripts/sftp.sh) allows more.
    @Test("a hundred connections that have not logged in do not make the test server drop the next one")
    func manyUnauthenticatedConnectionsDoNotShedTheNext() async throws {
        let waiting = try (0..<100).map { _ in try RawTCPConnection(port: server.port) }
        defer { _ = waiting }
        let root = try await SFTPClient.withConnection(server.configuration()) { client in
            try await client.stat("/")
        }
        #expect(root?.isFile == false)
    }
}
