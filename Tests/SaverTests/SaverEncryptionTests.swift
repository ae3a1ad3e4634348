import Foundation
import PipelineAge
import PipelineCore
import SaverCore
import Testing
import TestSupport

extension SaverServerTests {
    /// Uploads encrypted to age recipients: what lands on the real sshd is read back only by the
    /// reference `age` tool.
    @Suite("Saver: encrypted uploads") struct Encryption {
        /// Two identities made by age-keygen, and the saver's encryption to both.
        struct Keys {
            let first: String, second: String
            let encryption: UploadEncryption

            init(_ h: SaverHarness) async throws {
                first = h.directory.file("first-identity.txt")
                second = h.directory.file("second-identity.txt")
                encryption = UploadEncryption(recipients: [
                    try AgeRecipient(try await AgeTool.makeIdentity(at: first)),
                    try AgeRecipient(try await AgeTool.makeIdentity(at: second)),
                ])
            }
        }

        /// The server holds the three `.age` files and the manifest, nothing else; each file
        /// decrypts, with either identity, to the run's staged bytes; the manifest and the run row
        /// describe plaintext and ciphertext. Returns the first bytes of each encrypted file.
        static func expectEncryptedFiles(_ h: SaverHarness, _ run: StagedRunFixture, _ keys: Keys) async throws -> [String: Data] {
            let names = Saver.remoteNames(run.id, encrypted: true)
            #expect(filesOnDisk(h.remoteOnDisk) == [names.dlq, names.manifest, names.raw, names.users].sorted())
            let manifest = try #require(try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: h.remoteOnDisk + "/" + names.manifest))) as? [String: Any])
            let listed = (manifest["files"] as? [[String: Any]]) ?? []
            let row = try #require(try DatabaseSnapshot(path: h.databasePath).run(run.id))
            let remoteFiles = try #require(try JSONSerialization.jsonObject(with: Data((row["remote_files"] as String? ?? "").utf8)) as? [[String: Any]])
            var headers: [String: Data] = [:]
            for (index, (name, local)) in run.expectedRemote.enumerated() {
                let onServer = h.remoteOnDisk + "/" + name + ".age"
                let staged = try Data(contentsOf: URL(fileURLWithPath: local.path))
                #expect(try await AgeTool.plaintext(of: onServer, identity: keys.first) == staged, "\(name) with the first identity")
                #expect(try await AgeTool.plaintext(of: onServer, identity: keys.second) == staged, "\(name) with the second identity")
                let ciphertext = try Data(contentsOf: URL(fileURLWithPath: onServer))
                #expect(ciphertext.prefix(22) == Data("age-encryption.org/v1\n".utf8))
                headers[name] = ciphertext.prefix(200)
                let sha = try await sha256sum(onServer)

                let entry = listed.count > index ? listed[index] : [:]
                #expect(entry["name"] as? String == name + ".age")
                #expect(entry["rows"] as? Int == local.rows)
                #expect(entry["bytes"] as? Int == local.bytes, "the plaintext's size")
                #expect(entry["sha256"] as? String == local.sha256, "the plaintext's SHA-256")
                let sent = entry["ciphertext"] as? [String: Any]
                #expect(sent?["bytes"] as? Int == ciphertext.count)
                #expect(sent?["sha256"] as? String == sha)

                let remote = remoteFiles.first { ($0["path"] as? String)?.hasSuffix("/" + name + ".age") == true }
                #expect(remote?["bytes"] as? Int == ciphertext.count, "etl_runs.remote_files: what the server holds")
                #expect(remote?["sha256"] as? String == sha)
            }
            let encryption = manifest["encryption"] as? [String: Any]
            #expect(encryption?["format"] as? String == "age-encryption.org/v1")
            #expect(encryption?["recipients"] as? [String] == keys.encryption.recipients.map(\.encoded))
            return headers
        }

        @Test("a run in 3 chunks, encrypted to two recipients: each .age file decrypts with either identity to the staged bytes, and is sent once")
        func encryptedRunDecryptsToTheStagedFiles() async throws {
            let h = try await SaverHarness()
            let keys = try await Keys(h)
            // Chunk 2 is transformed only after chunks 0 and 1 are saved: the save waits for it
            // with its streams open instead of handing the run back and starting the files again.
            let run = try await h.stage(rows: 300, chunkUsers: 100, transformedChunks: 2)
            let sent = Chunks.Sent()
            let saver = try await h.saver(settings: h.settings(encryption: keys.encryption), hooks: sent.hooks)
            try await h.running(saver) {
                let saved = try await eventually(within: .seconds(30)) { try await h.ledger.run(run.id)?.chunks.saved.count == 2 }
                try #require(saved, "chunks 0 and 1 were never recorded saved")
                try await Task.sleep(for: .seconds(1))
                #expect(try await h.ledger.run(run.id)?.status != .completed)
                try await run.transform(chunks: 2..<3, ledger: h.ledger)
                let record = try await h.waitForLedger(run.id, .completed)
                #expect(record?.status == .completed, "\(record?.error ?? "-")")
            }
            _ = try await Self.expectEncryptedFiles(h, run, keys)
            for file in RemoteFile.allCases {
                let name = file.name(run.id, encrypted: true)
                let size = try #require(try FileManager.default.attributesOfItem(atPath: h.remoteOnDisk + "/" + name)[.size] as? Int)
                #expect(sent.to(h.remoteDirectory + "/" + name + ".part") == Int64(size), "\(name): every byte sent once")
            }
            #expect(!FileManager.default.fileExists(atPath: h.layout.chunkDirectory(run.id, 0) + "/upload-users.age"), "the pieces are removed")
        }

        @Test("a save stopped after chunk 0 resumes by writing each encrypted file again from its first byte, with a fresh file key")
        func aResumedSaveStartsTheFilesAgain() async throws {
            let h = try await SaverHarness()
            let keys = try await Keys(h)
            let run = try await h.stage(rows: 300, chunkUsers: 100)
            let settings = h.settings(encryption: keys.encryption)
            let paused = try await h.saver(settings: settings, hooks: SaverHooks(pauseAfter: .chunk))
            var before: [String: Data] = [:]
            try await h.running(paused) {
                let saved = try await eventually(within: .seconds(30)) { try await h.ledger.run(run.id)?.chunks.saved[0] != nil }
                try #require(saved, "chunk 0 was never recorded saved")
                for file in RemoteFile.allCases {
                    let part = h.remoteOnDisk + "/" + file.name(run.id, encrypted: true) + ".part"
                    before[file.name(run.id)] = try Data(contentsOf: URL(fileURLWithPath: part)).prefix(200)
                }
            }
            let sent = Chunks.Sent()
            let saver = try await h.saver(settings: settings, hooks: sent.hooks)
            let record = try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }
            #expect(record?.status == .completed, "\(record?.error ?? "-")")
            let after = try await Self.expectEncryptedFiles(h, run, keys)
            for (name, header) in after {
                #expect(before[name]?.count == 200)
                #expect(before[name] != header, "\(name): a new stream, so a new file key in the header")
                let size = try #require(try FileManager.default.attributesOfItem(atPath: h.remoteOnDisk + "/" + name + ".age")[.size] as? Int)
                #expect(sent.to(h.remoteDirectory + "/" + name + ".age.part") == Int64(size), "\(name): written whole, once, from byte 0")
            }
        }

        @Test("a plain save is unchanged by the feature: .jsonl files, a manifest without ciphertext or encryption")
        func plainUploadsStayPlain() async throws {
            let h = try await SaverHarness()
            let run = try await h.stage(rows: 120, chunkUsers: 100)
            let saver = try await h.saver()
            let record = try await h.running(saver) { try await h.waitForLedger(run.id, .completed) }
            #expect(record?.status == .completed, "\(record?.error ?? "-")")
            try await h.expectRemoteFiles(run)
            let manifest = try String(contentsOfFile: h.remoteOnDisk + "/" + Saver.remoteNames(run.id).manifest, encoding: .utf8)
            #expect(!manifest.contains("ciphertext") && !manifest.contains("encryption"))
        }
    }
}
