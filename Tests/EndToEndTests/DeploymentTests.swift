import EndToEndSupport
import Foundation
import PipelineCore
import Testing
import TestSupport

extension EndToEnd {
    /// Chaos scenarios 9–10: how the stages are deployed: replicas, and a server that is not
    /// the one the saver trusts.
    @Suite struct Deployment {
        @Test("9. three transformer and two saver replicas at once: the transformers share the run's chunks, each chunk is transformed once, one saver saves the run, and the run ends as an undisturbed one")
        func replicasShareARun() async throws {
            let reference = try await ReferenceRun.shared.state()
            try await Pipeline.run { p in
                try await p.startAPI()
                let transformers = try ["a", "b", "c"].map { try p.start(.transformer, as: "transformer-\($0)") }
                let savers = [try p.start(.saver, as: "saver-a"), try p.start(.saver, as: "saver-b")]
                // A chunk a page: fifty chunks, sealed one after another while the replicas work.
                let chunkUsers = Pipeline.pageSize
                let extractor = try await p.extractOnce(environment: ["CHUNK_USERS": String(chunkUsers)])
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                let id = try await p.onlyRun()
                let record = try await p.waitFor(id, [.completed, .failed])
                // A second look after a few reconcile rounds: no replica picks anything up again.
                try await Task.sleep(for: .seconds(3))

                let logs = (transformers + savers).map { "\($0.name):\n\($0.tail(15))" }.joined(separator: "\n")
                let chunks = Pipeline.users / chunkUsers
                #expect(record.chunks.total == chunks)
                let perReplica = transformers.map { $0.lines(containing: "chunk transformed").count }
                #expect(perReplica.reduce(0, +) == chunks, "each chunk transformed once: \(perReplica)\n\(logs)")
                #expect(perReplica.filter { $0 > 0 }.count >= 2, "the replicas shared the run: \(perReplica)")
                #expect(savers.map { $0.lines(containing: "run saved").count }.reduce(0, +) == 1, "\(logs)")
                #expect((transformers + savers).allSatisfy { $0.isRunning }, "no replica crashed")

                try await p.expectSameEnd(as: reference)
            }
        }

        @Test("10. the SFTP server's host key is not the one in known_hosts: the run fails in phase save at its first chunk without retrying, nothing is uploaded, and that chunk's rows in SQLite are whole")
        func wrongHostKey() async throws {
            try await Pipeline.run { p in
                // known_hosts lists another ed25519 key for the server's [127.0.0.1]:port.
                let otherKey = p.directory.file("other_host_key")
                try await runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "not-the-server", "-f", otherKey])
                let publicKey = try String(contentsOfFile: otherKey + ".pub", encoding: .utf8).split(separator: " ")
                try "[127.0.0.1]:\(p.sftp.port) \(publicKey[0]) \(publicKey[1])\n".write(toFile: p.knownHostsPath, atomically: true, encoding: .utf8)

                try await p.startDownstream()
                let extractor = try await p.extractOnce()
                #expect(extractor.exitStatus == 0, "\(extractor.tail())")
                let id = try await p.onlyRun()
                let failed = try await p.waitFor(id, [.completed, .failed])
                #expect(failed.status == .failed)
                #expect(failed.failedPhase == .save)
                #expect(failed.error?.lowercased().contains("host key") == true, "\(failed.error ?? "-")")

                #expect(p.uploadedNames().isEmpty, "nothing uploaded: \(p.uploadedNames())")
                // The saver mirrors the failure into etl_runs when channel:run_failed wakes it.
                #expect(try await eventually(within: .seconds(30)) {
                    let runs = try await p.getJSON(p.apiURL + "/etl_runs") as? [[String: Any]] ?? []
                    return runs.first?["status"] as? String == "failed"
                })
                let state = try await FinalState.capture(p)
                #expect(state.problems.isEmpty, "\(state)")
                #expect(state.files.isEmpty)
                #expect(state.runs.count == 1 && state.runs[0].hasPrefix("failed failed_phase=save extracted=\(Pipeline.users) ")
                        && state.runs[0].hasSuffix(" loaded=-1"), "\(state)")
                // The first chunk's three transactions ran beside its upload: its rows are there, whole;
                // no later chunk was started.
                #expect(state.rows["raw_users"] == Pipeline.chunkUsers, "\(state)")
                #expect((state.rows["users"] ?? 0) + (state.rows["dlq_records"] ?? 0) == Pipeline.chunkUsers, "\(state)")
                let saverLog = try String(contentsOfFile: p.logsDirectory + "/saver.log", encoding: .utf8)
                #expect(!saverLog.contains("upload failed; retrying"), "a host-key mismatch is not retried")
            }
        }
    }
}
