// SFTPBench: upload one file N times through PipelineSFTP and print the throughput, to compare
// the wrapper with OpenSSH's own sftp client (scripts/bench-sftp.sh runs both).
import ArgumentParser
import Foundation
import PipelineCore
import PipelineSFTP

struct SFTPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "SFTPBench",
        abstract: "Uploads a file N times with PipelineSFTP and prints MiB/s.",
        discussion: """
            Defaults come from the SFTP_* variables (.env.example) where set. Each run opens a new \
            connection, uploads to <remote-dir>/<name>.bench (through .part and a rename, as the \
            saver does) and disconnects. The last line is machine-readable:
            RESULT runs=N bytes=B upload_mibs=<median> total_mibs=<median>
            where upload_mibs times the upload alone and total_mibs connect + upload + close.
            """)

    @Option(help: "The local file to upload.")
    var file: String

    @Option(help: "Server host (SFTP_HOST, else 127.0.0.1).")
    var host: String?

    @Option(help: "Server port (SFTP_PORT, else 12222).")
    var port: Int?

    @Option(help: "SFTP user (SFTP_USER, else sftp_user).")
    var user: String?

    @Option(help: "Private key (SFTP_KEY_PATH, else ./ssh_keys/id_ed25519); its passphrase from SFTP_KEY_PASSPHRASE.")
    var key: String?

    @Option(help: "known_hosts file (SFTP_KNOWN_HOSTS, else ./ssh_keys/known_hosts).")
    var knownHosts: String?

    @Option(help: "Remote directory (created if missing).")
    var remoteDir = "upload"

    @Option(help: "Number of uploads.")
    var runs = 3

    @Option(help: "Bytes per libssh2 write (default 1 MiB).")
    var bufferSize = 1 << 20

    mutating func run() async throws {
        try await benchmark()
    }

    /// The benchmark itself, under a name of its own: from main.swift's top level a call to
    /// `run()` resolves to ParsableCommand's synchronous `run()`.
    func benchmark() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration = try SFTPConfiguration(from: SettingsReader(environment))
        configuration.host = host ?? environment["SFTP_HOST"] ?? "127.0.0.1"
        configuration.port = port ?? environment["SFTP_PORT"].flatMap(Int.init) ?? 12222
        if let user { configuration.user = user }
        if let key {
            configuration.privateKeyPath = key
            configuration.publicKeyPath = key + ".pub"
        }
        if let knownHosts { configuration.knownHostsPath = knownHosts }
        configuration.bufferSize = bufferSize
        configuration.ioTimeout = .seconds(60)

        let remotePath = remoteDir + "/" + URL(fileURLWithPath: file).lastPathComponent + ".bench"
        let clock = ContinuousClock()
        var uploadRates: [Double] = []
        var totalRates: [Double] = []
        var bytes: Int64 = 0
        for run in 1...max(1, runs) {
            let started = clock.now
            let result = try await SFTPClient.withConnection(configuration) { client in
                try await client.mkdirs(remoteDir)
                return try await client.upload(localPath: file, remotePath: remotePath)
            }
            let total = started.duration(to: clock.now)
            bytes = result.bytes
            let mib = Double(result.bytes) / 1_048_576
            uploadRates.append(result.mebibytesPerSecond)
            totalRates.append(mib / total.seconds)
            print(String(
                format: "run %d: %.1f MiB, upload %.3f s = %.1f MiB/s; connect+upload+close %.3f s = %.1f MiB/s",
                run, mib, result.elapsed.seconds, result.mebibytesPerSecond, total.seconds, mib / total.seconds))
        }
        try await SFTPClient.withConnection(configuration) { try await $0.remove(remotePath) }
        print(String(format: "median: upload %.1f MiB/s, connect+upload+close %.1f MiB/s", median(uploadRates), median(totalRates)))
        print(String(format: "RESULT runs=%d bytes=%lld upload_mibs=%.1f total_mibs=%.1f",
                     uploadRates.count, bytes, median(uploadRates), median(totalRates)))
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}

// In main.swift, `await SFTPBench.main()` resolves to the synchronous ParsableCommand.main(),
// which does not run an async command: parse it and call the benchmark directly.
do {
    let command = try SFTPBench.parse()
    try await command.benchmark()
} catch {
    SFTPBench.exit(withError: error)
}
