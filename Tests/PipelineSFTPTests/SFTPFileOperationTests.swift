import Foundation
import PipelineSFTP
import TestSupport
import Testing

/// mkdirs / stat / list / remove / rename against the real sshd.
@Suite("SFTP file operations", .sharedServer)
struct SFTPFileOperationTests {
    let server = SFTPTestServer.current

    @Test("mkdirs, stat, list, rename and remove do what they say")
    func directoryOperations() async throws {
        try await server.withScratch("ops") { client, local, remote, onDisk in
            try Data("{\"id\":1}\n".utf8).write(to: URL(fileURLWithPath: local + "/one.jsonl"))
            // mkdir -p: nested, and again (existing directories are fine), and absolute.
            try await client.mkdirs(remote + "/a/b/c")
            try await client.mkdirs(remote + "/a/b/c")
            try await client.mkdirs("/" + remote + "/a/b")
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: onDisk + "/a/b/c", isDirectory: &isDirectory) && isDirectory.boolValue)

            let directory = try #require(try await client.stat(remote + "/a"))
            #expect(directory.isDirectory)
            #expect(directory.permissions == 0o755)
            #expect(try await client.stat(remote + "/nothing-here") == nil)
            #expect(try await client.stat("upload/no/such/parent") == nil)

            try await client.upload(localPath: local + "/one.jsonl", remotePath: remote + "/a/one.jsonl")
            let file = try #require(try await client.stat(remote + "/a/one.jsonl"))
            #expect(file.isFile)
            #expect(file.size == 9)
            #expect(file.modificationDate != nil)

            let entries = try await client.list(remote + "/a")
            #expect(entries.map(\.name) == ["b", "one.jsonl"])
            #expect(entries.map(\.path) == [remote + "/a/b", remote + "/a/one.jsonl"])
            #expect(entries[0].info.isDirectory)
            #expect(entries[1].info.size == 9)

            // rename, then rename onto an existing file: refused without `replacing`, done with it.
            try await client.rename(from: remote + "/a/one.jsonl", to: remote + "/a/two.jsonl")
            #expect(FileManager.default.fileExists(atPath: onDisk + "/a/two.jsonl"))
            #expect(!FileManager.default.fileExists(atPath: onDisk + "/a/one.jsonl"))
            try await client.upload(localPath: local + "/one.jsonl", remotePath: remote + "/a/one.jsonl")
            let refused = try #require(await sftpError {
                try await client.rename(from: remote + "/a/one.jsonl", to: remote + "/a/two.jsonl")
            })
            #expect(refused.kind == .remote)
            #expect(refused.sftpStatus == .failure)
            #expect(refused.description.contains("rename of \"\(remote)/a/one.jsonl\""))
            #expect(refused.description.contains("renaming to \(remote)/a/two.jsonl"))
            try await client.rename(from: remote + "/a/one.jsonl", to: remote + "/a/two.jsonl", replacing: true)
            #expect(try await client.list(remote + "/a").map(\.name) == ["b", "two.jsonl"])

            try await client.remove(remote + "/a/two.jsonl")
            #expect(try await client.stat(remote + "/a/two.jsonl") == nil)
            #expect(try await client.list(remote + "/a").map(\.name) == ["b"])
        }
    }

    @Test("errors name the operation, the path, the server and the SFTP status in words")
    func remoteErrorsAreDescriptive() async throws {
        try await server.withScratch("errors") { client, local, remote, _ in
            try Data("x".utf8).write(to: URL(fileURLWithPath: local + "/x"))
            let missing = try #require(await sftpError { try await client.remove(remote + "/ghost.jsonl") })
            #expect(missing.kind == .remote)
            #expect(missing.sftpStatus == .noSuchFile)
            #expect(missing.operation == "remove")
            #expect(missing.description.contains("SFTP remove of \"\(remote)/ghost.jsonl\" on \(server.endpoint) failed: no such file (SFTP status 2)"))
            #expect(missing.libssh2Code == -31)
            #expect(missing.description.contains("LIBSSH2_ERROR_SFTP_PROTOCOL"))

            // The chroot's root belongs to root: the SFTP user may not create anything there.
            let denied = try #require(await sftpError { try await client.mkdirs("/not-allowed/x") })
            #expect(denied.sftpStatus == .permissionDenied)
            #expect(denied.description.contains("permission denied (SFTP status 3)"))
            #expect(denied.description.contains("creating /not-allowed"))
            #expect(denied.retryDecision == .fail)

            let uploadDenied = try #require(await sftpError {
                try await client.upload(localPath: local + "/x", remotePath: "/x.jsonl")
            })
            #expect(uploadDenied.operation == "upload")
            #expect(uploadDenied.description.contains("creating /x.jsonl.part"))
            #expect(uploadDenied.description.contains("permission denied"))

            // A file in the way of mkdirs.
            try await client.upload(localPath: local + "/x", remotePath: remote + "/file")
            let notDirectory = try #require(await sftpError { try await client.mkdirs(remote + "/file/sub") })
            #expect(notDirectory.description.contains("\(remote)/file exists and is not a directory"))

            // The session survives remote errors.
            #expect(try await client.stat(remote + "/file")?.size == 1)
        }
    }

    @Test("a closed client refuses further calls")
    func closedClient() async throws {
        let client = try await SFTPClient.connect(server.configuration())
        #expect(try await client.stat("upload")?.isDirectory == true)
        await client.close()
        await client.close()
        let error = try #require(await sftpError { _ = try await client.stat("upload") })
        #expect(error.kind == .closed)
        #expect(error.description.contains("closed"))
    }
}
