import APITestData
import ArgumentParser
import Foundation

/// Writes a database of realistic runs (users, dead letters, events) for the API's benchmark and
/// contract test, with the saver's own transactions (see `SampleDatabase`).
@main
struct APISeed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "APISeed",
        abstract: "Write sample pipeline runs into an SQLite database for the API to serve."
    )

    @Option(help: "The database file to create (its folder is created too).")
    var database: String

    @Option(help: "How many runs to write (every 10th fails in transform, every 10th in save).")
    var runs: Int = 1000

    @Option(help: "Upstream users per run; later runs update the same ids.")
    var usersPerRun: Int = 12

    @Option(help: "Random seed for the run ids.")
    var seed: UInt64 = 42

    @Flag(help: "Remove an existing database (and its -wal/-shm files) first.")
    var replace = false

    func run() async throws {
        if replace {
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: database + suffix) {
                try FileManager.default.removeItem(atPath: database + suffix)
            }
        }
        let started = Date()
        let written = try await SampleDatabase.write(runCount: runs, usersPerRun: usersPerRun, seed: seed, to: database)
        let seconds = Date().timeIntervalSince(started)
        print("APISeed: wrote \(written.count) runs (\(usersPerRun) users each, 3 dead letters each) to \(database) in \(String(format: "%.1f", seconds)) s")
    }
}
