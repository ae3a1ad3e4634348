import EndToEndSupport
import Foundation

/// scripts/bench-pipeline.sh's options, which it checks and passes as `BENCH_*` variables;
/// `nil` without `BENCH_PIPELINE` (the file the JSON lines go to), as in a normal test run.
struct BenchOptions: Sendable {
    var output: String
    var users: [Int]
    var repeats: Int
    var transformers: Int
    var chunkUsers: Int?
    var timeline: String?
    var keep: String?
    var timeout: Double
    var floor: Bool
    var encrypt: Bool
    var perf: String?
    var kills: [Kill]
    /// `BENCH_STAGE_ENV`: extra `KEY=VALUE` lines for the stages (scripts/compare-outputs.sh's `--base-env`).
    var stageEnvironment: [String: String]

    static let current: BenchOptions? = {
        let env = ProcessInfo.processInfo.environment
        guard let output = env["BENCH_PIPELINE"], !output.isEmpty else { return nil }
        let set = { (name: String) in env[name].flatMap { $0.isEmpty ? nil : $0 } }
        return BenchOptions(
            output: output,
            users: (set("BENCH_USERS") ?? "208").split(separator: " ").compactMap { Int($0) },
            repeats: set("BENCH_REPEAT").flatMap { Int($0) } ?? 1,
            transformers: set("BENCH_TRANSFORMERS").flatMap { Int($0) } ?? 1,
            chunkUsers: set("BENCH_CHUNK_USERS").flatMap { Int($0) },
            timeline: set("BENCH_TIMELINE"), keep: set("BENCH_KEEP"),
            timeout: set("BENCH_TIMEOUT").flatMap { Double($0) } ?? 900,
            floor: set("BENCH_FLOOR") != "0", encrypt: set("BENCH_ENCRYPT") == "1", perf: set("BENCH_PERF"),
            kills: (set("BENCH_KILL") ?? "").split(separator: " ").compactMap { Kill(String($0)) },
            stageEnvironment: Dictionary((set("BENCH_STAGE_ENV") ?? "").split(separator: "\n").map {
                let pair = $0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                return (pair[0], pair.count > 1 ? pair[1] : "")
            }) { $1 })
    }()
}

/// `--kill STAGE[@N[+MS]]`: SIGKILL the stage once the ledger holds N chunk records of its phase
/// (default half the run's chunks; 0: once the phase has begun), MS ms later.
struct Kill: Sendable {
    let spec: String, stage: Pipeline.Stage, after: Int?, delayMs: Int

    init?(_ spec: String) {
        let parts = spec.split(separator: "@", maxSplits: 1)
        guard let stage = Pipeline.Stage(rawValue: parts[0].capitalized), stage != .api else { return nil }
        let point = parts.count > 1 ? parts[1].split(separator: "+", maxSplits: 1).map { Int($0) } : []
        guard !point.contains(nil) else { return nil }
        (self.spec, self.stage, after, delayMs) = (spec, stage, point.first ?? nil, point.count > 1 ? point[1]! : 0)
    }

    /// The stage's phase in the ledger and the word of its per-chunk log line.
    var phase: (name: String, word: String) {
        switch stage {
        case .extractor: ("extract", "sealed")
        case .transformer: ("transform", "transformed")
        default: ("save", "saved")
        }
    }
}
