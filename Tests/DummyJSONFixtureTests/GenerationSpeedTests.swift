import DummyJSONFixture
import Foundation
import Testing
import TestSupport

/// Generation speed as a printed figure, never a timed assertion (CI machines vary); the
/// assertions are about correctness only.
@Suite struct GenerationSpeedTests {
    @Test func generates100kUsersAndPrintsTheRate() async throws {
        // Seconds of generation run on a thread of their own, not on one of the cooperative
        // pool's; the CPU time printed is that thread's.
        let run = try await offThePool { () throws -> (pages: Int, bytes: Int, last: JSON, lastID: JSON) in
            let users = try FixtureUsers(count: 1_000_000, seed: 1, badFraction: 0.05)
            let clock = ContinuousClock()
            var bytes = 0
            var pages = 0
            let cpuStart = threadCPUSeconds()
            let start = clock.now
            var skip = 500_000
            while skip < 600_000 {
                let page = users.pageBytes(PageWindow(total: users.count, skip: skip, limit: 100))
                bytes += page.count
                pages += 1
                skip += 100
            }
            let elapsed = clock.now - start
            let cpu = threadCPUSeconds() - cpuStart
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(
                "fixture generation: 100000 users (pages of 100), \(bytes / 100_000) bytes/user; "
                    + "wall \(String(format: "%.3f", seconds)) s = \(Int(100_000 / seconds)) users/s, "
                    + "\(String(format: "%.0f", seconds / Double(pages) * 1e6)) µs/page; "
                    + "CPU \(String(format: "%.3f", cpu)) s = \(Int(100_000 / cpu)) users/s, "
                    + "\(String(format: "%.0f", cpu / Double(pages) * 1e6)) µs/page (this build's optimisation level)"
            )
            let last = try JSON.parse(users.pageBytes(PageWindow(total: users.count, skip: 599_900, limit: 100)))
            return (pages, bytes, last, try JSON.parse(users.idJSON(at: 599_999)))
        }
        #expect(run.pages == 1_000)
        #expect(run.bytes > 100_000 * 1_000)
        #expect(run.last["users"]?.array?.count == 100)
        #expect(run.last["users"]?[99]?["id"] == run.lastID)
    }
}

/// CPU time of the calling thread (the loop above never suspends), which a loaded machine
/// distorts less than wall time.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
