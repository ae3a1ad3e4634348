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

    @Option(help: "Users of one more run, written after the others (0: none): a database of that many users, all last changed by the newest run, as a full upstream load leaves it.")
    var users: Int = 0

    @Option(help: "Rejected rows of that last run beyond its three (a page of dead letters to read).")
    var badRows: Int = 0

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
        var seconds = Date().timeIntervalSince(started)
        print("APISeed: wrote \(written.count) runs (\(usersPerRun) users each, 3 dead letters each) to \(database) in \(String(format: "%.1f", seconds)) s")
        guard users > 0 else { return }
        // One completed run, an hour after the last: the newest, so it updates every user it holds.
        let generator = SampleRunGenerator(
            seed: seed &+ 1, firstStart: (written.last?.startedAt ?? Date(timeIntervalSince1970: 1_790_000_000)).addingTimeInterval(3600),
            usersPerRun: users, extraBadRows: badRows, failure: { _ in nil })
        let large = generator.runs(count: 1)
        try await SampleDatabase.write(large, to: database)
        seconds = Date().timeIntervalSince(started)
        print("APISeed: wrote run \(large[0].runID) with \(users) users and \(large[0].dlqLines.count) dead letters; \(String(format: "%.1f", seconds)) s in all")
    }
}
