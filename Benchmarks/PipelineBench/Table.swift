import Foundation

/// The Markdown tables the benchmark prints on stderr, as docs/BENCHMARKS.md quotes them.
enum Table {
    static let header = """
        | users | run | end to end s | users/s | extract s | transform s | save s | hand-offs s (E→T / T→S) | \
        peak RSS MiB (E / T / S / API) | MB staged / uploaded / db | load 1m | floor s (tools in parallel); pipeline ÷ floor |
        |---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|
        """
    static let recoveryHeader = """
        | users | run | killed at (chunks of the stage done / run's chunks; s after the start) | claims of the dead \
        process → owned by the restarted one after s (TTL left) | took over | restart → first chunk s | \
        restart → completed s | end to end s (undisturbed) | chunks redone | outputs vs the undisturbed run |
        |---:|---|---|---|---|---:|---:|---|---|---|
        """

    static func label(_ o: Outcome) -> String {
        o.kill.map { "\(o.run) kill \($0)" } ?? (o.run == 0 ? "undisturbed" : String(o.run))
    }

    /// A stage's values by process, replicas (`Transformer-1`, `Transformer-2`, …) in order.
    static func replicas(_ byProcess: [String: Double], _ stage: String) -> [Double] {
        byProcess.filter { $0.key == stage || $0.key.hasPrefix(stage + "-") }.sorted { $0.key < $1.key }.map(\.value)
    }

    static func row(_ o: Outcome, handoffs: [String: Double], bytes: [String: Int], load: (Double, Double), floor: [String: Any]?) -> String {
        let mb = { (key: String) in String(format: "%.1f", Double(bytes[key] ?? 0) / 1e6) }
        let rss = ["Extractor", "Transformer", "Saver", "API"].map { replicas(o.rss, $0).map { String($0) }.joined(separator: ",") }
        var floorCell = "–"
        if let floor, let wall = floor["wall_s"] as? Double, let tools = floor["tool_s"] as? [String: Double] {
            floorCell = f(wall) + " (curl \(f(tools["curl"] ?? 0)), sqlite3 \(f(tools["sqlite3"] ?? 0)), sftp \(f(tools["sftp"] ?? 0))); "
                + "pipeline \(f(o.endToEnd / max(wall, 1e-3)))×"
        }
        let (users, rate) = (grouped(o.users), grouped(Int(Double(o.users) / o.endToEnd)))
        return "| \(String(repeating: " ", count: max(0, 9 - users.count)) + users) | \(label(o)) | **\(f(o.endToEnd))** | "
            + "\(String(repeating: " ", count: max(0, 7 - rate.count)) + rate) | "
            + Outcome.phases.map { f(o.phaseSeconds[$0] ?? 0) }.joined(separator: " | ") + " | "
            + String(format: "%.3f / %.3f", handoffs["extract_to_transform"] ?? 0, handoffs["transform_to_save"] ?? 0) + " | "
            + rss.joined(separator: " / ") + " | \(mb("staged")) / \(mb("uploaded")) / \(mb("database")) | "
            + String(format: "%.1f→%.1f", load.0, load.1) + " | \(floorCell) |"
    }

    static func recoveryRow(_ o: Outcome, _ r: [String: Any]) -> String {
        let claims = (r["claims_at_kill"] as? [String: [String: Any]] ?? [:]).sorted { $0.key < $1.key }.map { key, c in
            let when = (c["taken_over_s"] as? Double).map { String(format: "%.3f", $0) }
                ?? (c["gone_s"] as? Double).map { String(format: "gone at %.3f", $0) } ?? "never"
            return "\(key.replacingOccurrences(of: "etl:lock:", with: "")) → \(when) (\(String(format: "%.1f", Double(c["ttl_left_ms"] as? Int ?? 0) / 1000)) s)"
                + (c["needed"] as? Bool == false ? " (chunk already recorded: not needed)" : "")
        }
        let different = r["outputs_different"] as? [String] ?? []
        return "| \(grouped(o.users)) | \(label(o)) | \(r["chunks_done_at_kill"] ?? "?") / \(r["chunks_total"].map { "\($0)" } ?? "?"); "
            + "\(f(r["killed_at_s"] as? Double ?? 0)) s | \(claims.isEmpty ? "none" : claims.joined(separator: "; ")) | \(r["took_over"] ?? "?") | "
            + ((r["first_chunk_after_restart_s"] as? Double).map { String(format: "%.3f", $0) } ?? "–") + " | "
            + "**\(f(o.restartToCompleted ?? 0))** | \(f(o.endToEnd)) (\(f(r["undisturbed_end_to_end_s"] as? Double ?? 0))) | "
            + ((r["chunks_redone"] as? [Int]).map { $0.isEmpty ? "none" : $0.map(String.init).joined(separator: ",") } ?? "none") + " | "
            + (different.isEmpty ? "identical" : "DIFFERENT: " + different.joined(separator: ", ")) + " |"
    }

    /// Every run's row again, and with `--repeat K` min/median per size (also as JSON lines).
    static func summary(_ outcomes: [Outcome], options: BenchOptions) -> String {
        var out = ["", header] + outcomes.map(\.row)
        if !options.kills.isEmpty { out += ["", recoveryHeader] + outcomes.compactMap(\.recoveryRow) }
        guard options.repeats > 1 else { return out.joined(separator: "\n") }
        for users in options.users {
            for kill in options.kills.isEmpty ? [nil] : options.kills.map(\.spec) {
                let runs = outcomes.filter { $0.users == users && $0.kill == kill && $0.run > 0 }
                var measures: [(String, (Outcome) -> Double)] = [("end_to_end_s", \.endToEnd)]
                measures += Outcome.phases.map { phase -> (String, (Outcome) -> Double) in ("\(phase)_s", { $0.phaseSeconds[phase] ?? 0 }) }
                measures += ["Extractor", "Transformer", "Saver", "API"].map { stage -> (String, (Outcome) -> Double) in
                    ("rss_\(stage)_mib", { replicas($0.rss, stage).max() ?? 0 })
                }
                if kill != nil { measures.append(("restart_to_completed_s", { $0.restartToCompleted ?? 0 })) }
                var line: [String: Any] = ["users": users, "kill": orNull(kill), "runs": runs.count, "summary": true]
                for (key, measure) in measures {
                    let values = runs.map(measure).sorted()
                    let median = values.count % 2 == 1 ? values[values.count / 2] : (values[values.count / 2 - 1] + values[values.count / 2]) / 2
                    line[key] = ["min": values.first ?? 0, "median": median, "max": values.last ?? 0]
                }
                try? appendLine(line, to: options.output)
                let stat = { (key: String) in line[key] as! [String: Double] }
                out.append("\(grouped(users)) users over \(runs.count) runs\(kill.map { " (kill \($0))" } ?? ""): end to end min "
                           + "\(f(stat("end_to_end_s")["min"]!)) s, median \(f(stat("end_to_end_s")["median"]!)) s; "
                           + Outcome.phases.map { "\($0) min/median \(f(stat("\($0)_s")["min"]!))/\(f(stat("\($0)_s")["median"]!)) s" }.joined(separator: ", ")
                           + (kill == nil ? "" : "; restart → completed min/median/max "
                              + ["min", "median", "max"].map { f(stat("restart_to_completed_s")[$0]!) }.joined(separator: "/") + " s"))
            }
        }
        return out.joined(separator: "\n")
    }

    /// Two decimals.
    static func f(_ value: Double) -> String { String(format: "%.2f", value) }
}
