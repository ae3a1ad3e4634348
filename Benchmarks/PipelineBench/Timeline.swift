import Foundation

/// The per-chunk timeline, from the stages' text logs (`<ts> <LEVEL> [stage] run=<id> <message>
/// key=value …`, LineLogHandler in Sources/PipelineCore/Logging): a line of the run with `chunk=`
/// metadata whose message has the word `chunk` and `sealed` / `transformed` / `saved` says when
/// that stage finished the chunk.
enum Timeline {
    struct Chunk {
        var chunk: Int, rows: Int? = nil
        /// ms from the extractor's start until each phase finished the chunk, and which process did.
        var ms: [String: Int] = [:], by: [String: String] = [:]

        var json: [String: Any] {
            var out: [String: Any] = ["chunk": chunk]
            if let rows { out["rows"] = rows }
            for (phase, ms) in ms { out["\(phase)_ms"] = ms }
            for (phase, process) in by { out["\(phase)_by"] = process }
            return out
        }
    }

    struct Event {
        var at: Double, words: [Substring], meta: [String: String]
        /// A chunk finished: the words `chunk` and `word` in the message, and `chunk=<n>`.
        func finished(_ word: String) -> Int? {
            words.contains("chunk") && words.contains(Substring(word)) ? meta["chunk"].flatMap { Int($0) } : nil
        }
    }

    private static let wordOfPhase = ["extract": "sealed", "transform": "transformed", "save": "saved"]

    /// The lines of a stage's log that parse: the message's words and the metadata after them.
    static func events(_ path: String) -> [Event] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            var tokens = line.split(separator: " ")
            guard tokens.count > 3, let at = unixTime(tokens[0]), tokens[2].hasPrefix("[") else { return nil }
            tokens.removeFirst(3)
            var meta: [String: String] = [:]
            if tokens.first?.hasPrefix("run=") == true { meta["run_id"] = String(tokens.removeFirst().dropFirst(4)) }
            let words = tokens.prefix { !$0.contains("=") }
            for token in tokens.dropFirst(words.count) {
                let pair = token.split(separator: "=", maxSplits: 1)
                if pair.count == 2 { meta[String(pair[0])] = String(pair[1]) }
            }
            return Event(at: at, words: Array(words), meta: meta)
        }
    }

    /// Per chunk, when each stage last finished it (ms since `wall0`) and which process (its log's name) did.
    static func chunks(logs: String, run: String, wall0: Date) -> [Chunk] {
        var chunks: [Int: Chunk] = [:]
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).sorted() where name.hasSuffix(".log") {
            for event in events(logs + "/" + name) where (event.meta["run_id"] ?? run) == run {
                for (phase, word) in wordOfPhase {
                    guard let index = event.finished(word) else { continue }
                    var chunk = chunks[index] ?? Chunk(chunk: index)
                    let ms = Int(((event.at - wall0.timeIntervalSince1970) * 1000).rounded())
                    if ms >= chunk.ms[phase] ?? ms {
                        chunk.ms[phase] = ms
                        chunk.by[phase] = String(name.dropLast(4))
                    }
                    if let rows = event.meta["rows"].flatMap({ Int($0) }), phase == "extract" || chunk.rows == nil { chunk.rows = rows }
                    chunks[index] = chunk
                }
            }
        }
        return chunks.keys.sorted().map { chunks[$0]! }
    }

    /// One line per chunk: when each stage finished it and a bar from 0 to the run's end with E
    /// (sealed), T (transformed) and S (saved); then one lane per stage, `=` from its first chunk
    /// to its last. Lanes that overlap are stages working at the same time.
    static func text(_ chunks: [Chunk], endMs: Int, width: Int = 50) -> String {
        guard !chunks.isEmpty else {
            return "chunk timeline: no chunk lines in the stages' logs (a build without chunks: each stage works on the whole run; see the per-stage seconds above)"
        }
        let end = max(endMs, chunks.flatMap(\.ms.values).max() ?? 0)
        let column = { (ms: Int) in min(width - 1, max(0, ms * width / max(end, 1))) }
        func bar(_ marks: [(Int, Character)], _ fill: Character) -> String {
            var lane = [Character](repeating: " ", count: width)
            if let first = marks.map(\.0).min(), let last = marks.map(\.0).max() {
                for i in column(first)...column(last) { lane[i] = fill }
                for (ms, mark) in marks { lane[column(ms)] = mark }
            }
            return "|" + String(lane) + "|"
        }
        let pad = { (text: String, width: Int) in String(repeating: " ", count: max(0, width - text.count)) + text }
        let cell = { (value: Int?) in value.map(grouped) ?? "–" }
        let marks = Array(zip(Outcome.phases, "ETS"))
        let head = "\(pad("chunk", 6)) \(pad("rows", 7)) \(pad("sealed", 8)) \(pad("transformed", 11)) \(pad("saved", 8)) \("transformed by".padding(toLength: 14, withPad: " ", startingAt: 0)) "
        var out = ["chunk timeline: ms from the extractor's start until each stage finished the chunk (\(chunks.count) chunks; the run's end \(grouped(end)) ms; E sealed, T transformed, S saved)",
                   head + "0 ms".padding(toLength: width + 2 - "\(grouped(end)) ms".count, withPad: " ", startingAt: 0) + "\(grouped(end)) ms"]
        for c in chunks {
            out.append("\(pad(String(c.chunk), 6)) \(pad(cell(c.rows), 7)) \(pad(cell(c.ms["extract"]), 8)) \(pad(cell(c.ms["transform"]), 11)) \(pad(cell(c.ms["save"]), 8)) "
                       + (c.by["transform"] ?? "–").padding(toLength: 14, withPad: " ", startingAt: 0) + " "
                       + bar(marks.compactMap { phase, mark in c.ms[phase].map { ($0, mark) } }, "-"))
        }
        for (phase, mark) in marks {
            let times = chunks.compactMap { $0.ms[phase] }
            let span = times.isEmpty ? "no lines" : "\(times.count) chunks, \(grouped(times.min()!))–\(grouped(times.max()!)) ms"
            out.append(pad("\(phase) (\(span))", head.count) + bar(times.map { ($0, mark) }, "="))
        }
        return out.joined(separator: "\n")
    }

    /// `--timeline FILE`: every run's chunks so far, one CSV row per chunk.
    static func writeCSV(_ outcomes: [Outcome], to path: String) throws {
        var lines = ["users,run,run_id,chunk,rows,extract_ms,transform_ms,save_ms,transform_by"]
        for o in outcomes {
            for c in o.timeline {
                let times: [String] = Outcome.phases.map { phase in c.ms[phase].map(String.init) ?? "" }
                let fields: [String] = [String(o.users), String(o.run), o.json["run_id"] as? String ?? "", String(c.chunk), c.rows.map(String.init) ?? ""]
                lines.append((fields + times + [c.by["transform"] ?? ""]).joined(separator: ","))
            }
        }
        try (lines.joined(separator: "\r\n") + "\r\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// 1234567 → `1,234,567`.
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    let head = digits.count % 3 == 0 ? 3 : digits.count % 3
    var out = String(digits.prefix(head))
    var rest = digits.dropFirst(head)
    while !rest.isEmpty {
        out += "," + rest.prefix(3)
        rest = rest.dropFirst(3)
    }
    return (value < 0 ? "-" : "") + out
}
