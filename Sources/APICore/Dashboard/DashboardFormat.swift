import Foundation

/// How numbers, durations and sizes read on the dashboard's pages.
enum DashboardFormat {
    /// A count, or an en dash when the phase that counts it has not run.
    static func count(_ value: Int?) -> String {
        value.map(String.init) ?? "–"
    }

    /// `850 ms`, `4.3 s`, `2 min 05 s`, `1 h 02 min`.
    static func duration(milliseconds: Int?) -> String {
        guard let milliseconds else { return "–" }
        if milliseconds < 1000 { return "\(milliseconds) ms" }
        let seconds = Double(milliseconds) / 1000
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
        return String(format: "%d h %02d min", whole / 3600, (whole % 3600) / 60)
    }

    static func duration(seconds: TimeInterval) -> String {
        duration(milliseconds: Int((max(0, seconds) * 1000).rounded()))
    }

    /// `512 B`, `12.1 KiB`, `3.4 MiB`.
    static func bytes(_ value: Int?) -> String {
        guard let value else { return "–" }
        if value < 1024 { return "\(value) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var size = Double(value) / 1024
        var unit = 0
        while size >= 1024, unit < units.count - 1 {
            size /= 1024
            unit += 1
        }
        return String(format: "%.1f %@", size, units[unit])
    }

    /// An SVG coordinate: one decimal, never negative zero.
    static func coordinate(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == 0 ? "0" : String(format: "%.1f", rounded)
    }

    /// `2026-09-22T10:15:00.123Z` → `2026-09-22 10:15`, for a column of many (the full value in
    /// its `title`).
    static func minute(_ text: String) -> String {
        String(timestamp(text).prefix(16))
    }

    /// `2026-09-22T10:15:00.123Z` → `2026-09-22 10:15:00`: the seconds are enough on a page.
    static func timestamp(_ text: String?) -> String {
        guard let text else { return "–" }
        var shown = text.replacingOccurrences(of: "T", with: " ")
        if let dot = shown.firstIndex(of: ".") { shown = String(shown[..<dot]) }
        if shown.hasSuffix("Z") { shown.removeLast() }
        return shown
    }
}
