import EndToEndSupport
import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One run's figures: the JSON line, the table rows, and what the summary and the timeline need.
struct Outcome {
    static let phases = ["extract", "transform", "save"]

    var users: Int, run: Int, kill: String?
    var state: FinalState?
    var endToEnd: Double
    var timeline: [Timeline.Chunk]
    var phaseSeconds: [String: Double] = [:]
    /// Peak RSS by process name (`Saver`, `Transformer-2`, `Saver-restarted`).
    var rss: [String: Double] = [:]
    var restartToCompleted: Double?
    var row = "", recoveryRow: String?
    var json: [String: Any] = [:]
}

/// Each process's peak RSS (`VmHWM`, the kernel's high-water mark) and CPU seconds, read from
/// /proc while it runs: sampled every 50 ms and before it is stopped or killed.
struct Peaks {
    private var rssKiB: [String: Int] = [:]
    private var cpuTicks: [String: Int] = [:]

    mutating func sample(_ processes: [ChildProcess]) {
        for process in processes where process.isRunning {
            let name = process.name == "dummyjson" ? "DummyJSON" : process.name
            let status = (try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8)) ?? ""
            if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
               let kib = Int(line.split(whereSeparator: \.isWhitespace)[1]) {
                rssKiB[name] = max(rssKiB[name] ?? 0, kib)
            }
            // After the command's `)`: state is field 3, utime 14 and stime 15.
            let stat = ((try? String(contentsOfFile: "/proc/\(process.pid)/stat", encoding: .utf8)) ?? "")
                .split(separator: ")").last?.split(separator: " ") ?? []
            if stat.count > 12, let user = Int(stat[11]), let system = Int(stat[12]) { cpuTicks[name] = user + system }
        }
    }

    var rssMiB: [String: Double] { rssKiB.mapValues { rounded(Double($0) / 1024, 1) } }
    var cpuSeconds: [String: Double] { cpuTicks.mapValues { rounded(Double($0) / Double(sysconf(Int32(_SC_CLK_TCK))), 2) } }
}

extension Pipeline {
    /// `--keep DIR`: the run's staging, database, logs, uploads and ledger record.
    func keep(in destination: String, record: [String: String]) throws {
        let files = FileManager.default
        try? files.removeItem(atPath: destination)
        try files.createDirectory(atPath: destination, withIntermediateDirectories: true)
        for (from, to) in [(dataDirectory, "data"), (directory.file("database"), "database"), (logsDirectory, "logs"), (uploadDirectory, "upload")] {
            try files.copyItem(atPath: from, toPath: destination + "/" + to)
        }
        let ledger = try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys])
        try ledger.write(to: URL(fileURLWithPath: destination + "/ledger.json"))
    }
}

extension FinalState {
    /// What differs from `other`, by part; also this state's own problems.
    func differences(from other: FinalState) -> [String] {
        let parts: [(String, Bool)] = [
            ("runs", runs == other.runs), ("rows", rows == other.rows), ("tables", tables == other.tables),
            ("files", files == other.files), ("raw", rawSHA256 == other.rawSHA256), ("manifest", manifest == other.manifest),
        ]
        return parts.filter { !$0.1 }.map(\.0) + problems
    }
}

/// The bytes per file name in a ledger `*_files` value (a chunked run's files of one name summed).
func fileBytes(_ value: String?) -> [String: Int] {
    var out: [String: Int] = [:]
    for file in parse(value) as? [[String: Any]] ?? [] {
        let name = URL(fileURLWithPath: file["path"] as? String ?? "").lastPathComponent
        out[name, default: 0] += file["bytes"] as? Int ?? 0
    }
    return out
}

/// A JSON value: `null` for `nil`.
func orNull(_ value: Any?) -> Any { value ?? NSNull() }

func parse(_ json: String?) -> Any? {
    json.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }
}

/// An ISO 8601 UTC time (`2026-11-22T10:15:00.123Z`, the `Z` optional as in the text logs) in
/// seconds since 1970.
func unixTime(_ text: Substring) -> Double? {
    let digits = text.split(whereSeparator: { "-T:.Z".contains($0) }).map { Int($0) }
    guard digits.count >= 6, !digits.contains(nil) else { return nil }
    var parts = tm()
    (parts.tm_year, parts.tm_mon, parts.tm_mday) = (Int32(digits[0]! - 1900), Int32(digits[1]! - 1), Int32(digits[2]!))
    (parts.tm_hour, parts.tm_min, parts.tm_sec) = (Int32(digits[3]!), Int32(digits[4]!), Int32(digits[5]!))
    let fraction = digits.count > 6 ? Double("0." + String(text.split(separator: ".")[1].prefix { $0.isNumber })) ?? 0 : 0
    return Double(timegm(&parts)) + fraction
}

func ledgerTime(_ record: [String: String], _ field: String) throws -> Double {
    guard let text = record[field], let time = unixTime(Substring(text)) else {
        throw ChildProcessError("the ledger has no \(field): \(record)")
    }
    return time
}

func fileSize(_ path: String) -> Int {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
}

func rounded(_ value: Double, _ places: Int) -> Double {
    let scale = pow(10, Double(places))
    return (value * scale).rounded() / scale
}

func loadAverage() -> Double {
    var load = [0.0, 0, 0]
    return getloadavg(&load, 3) > 0 ? load[0] : -1
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

func say(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

func appendLine(_ object: [String: Any], to path: String) throws {
    var line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    line.append(0x0A)
    if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: line)
}
