import Foundation

/// The geometry of the dashboard's charts, as template contexts: every coordinate is computed
/// here as a number, every label goes through the template's `{{ }}` escaping. No SVG text is
/// built by string concatenation, so no data reaches the page unescaped.
enum SVGCharts {
    /// The small per-run bar on the runs page: each phase where it ran within the run's time.
    static func phaseBars(_ spans: [PhaseSpan], runStart: Date, runEnd: Date, width: Double = 160) -> [String: Any] {
        let total = max(runEnd.timeIntervalSince(runStart), 0.001)
        let bars: [[String: Any]] = spans.map { span in
            let end = span.end ?? runEnd
            let x = min(max(0, span.start.timeIntervalSince(runStart) / total * width), width - 1)
            let barWidth = min(max(1, end.timeIntervalSince(span.start) / total * width), width - x)
            return [
                "phase": span.phase, "state": span.state.rawValue,
                "x": DashboardFormat.coordinate(x), "barWidth": DashboardFormat.coordinate(barWidth),
                "title": "\(span.phase): \(span.state.rawValue), \(DashboardFormat.duration(seconds: end.timeIntervalSince(span.start)))",
            ]
        }
        let label = spans.map { "\($0.phase) \($0.state.rawValue)" }.joined(separator: ", ")
        return ["width": DashboardFormat.coordinate(width), "bars": bars, "label": label.isEmpty ? "no phase started" : label]
    }

    /// The run page's timeline: a row per phase on one time axis from the run's start, with
    /// ticks at round times (``tickStep(_:)``).
    static func timeline(_ spans: [PhaseSpan], runStart: Date, runEnd: Date) -> [String: Any]? {
        guard !spans.isEmpty else { return nil }
        let labelWidth = 90.0, chartWidth = 560.0, valueWidth = 110.0, rowHeight = 28.0, barHeight = 16.0
        let total = max(runEnd.timeIntervalSince(runStart), 0.001)
        let rows: [[String: Any]] = spans.enumerated().map { index, span in
            let end = span.end ?? runEnd
            let x = min(max(0, span.start.timeIntervalSince(runStart) / total * chartWidth), chartWidth - 1)
            let barWidth = min(max(1, end.timeIntervalSince(span.start) / total * chartWidth), chartWidth - x)
            let top = Double(index) * rowHeight + 4
            let seconds = end.timeIntervalSince(span.start)
            let value = span.state == .running ? "running" : DashboardFormat.duration(seconds: seconds)
            return [
                "phase": span.phase, "state": span.state.rawValue,
                "x": DashboardFormat.coordinate(labelWidth + x), "y": DashboardFormat.coordinate(top),
                "barWidth": DashboardFormat.coordinate(barWidth), "barHeight": DashboardFormat.coordinate(barHeight),
                "textY": DashboardFormat.coordinate(top + 12.5), "valueX": DashboardFormat.coordinate(labelWidth + x + barWidth + 6),
                "value": value,
                "title": "\(span.phase) \(span.state.rawValue): \(DashboardFormat.duration(seconds: seconds)) from +\(DashboardFormat.duration(seconds: span.start.timeIntervalSince(runStart)))",
            ]
        }
        let axisTop = Double(spans.count) * rowHeight + 2
        let step = tickStep(total)
        let ticks: [[String: Any]] = (0...Int((total / step).rounded(.down))).map { index in
            let at = Double(index) * step
            let x = labelWidth + chartWidth * at / total
            return [
                "x": DashboardFormat.coordinate(x), "y1": "0", "y2": DashboardFormat.coordinate(axisTop + 4),
                "textY": DashboardFormat.coordinate(axisTop + 18), "label": DashboardFormat.duration(seconds: at),
            ]
        }
        return [
            "width": DashboardFormat.coordinate(labelWidth + chartWidth + valueWidth), "height": DashboardFormat.coordinate(axisTop + 24),
            "rows": rows, "ticks": ticks,
        ]
    }

    /// A round step (1, 2 or 5 times a power of ten, in seconds) that puts 2 to 5 intervals on
    /// an axis `total` seconds long.
    static func tickStep(_ total: TimeInterval) -> TimeInterval {
        let rough = max(total, 0.001) / 4
        let power = pow(10, (log10(rough)).rounded(.down))
        return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? 10 * power
    }

    /// The run page's bar chart of rejected rows per rule, longest bar for the most rows.
    static func ruleBars(_ facets: [Facet]) -> [String: Any]? {
        guard !facets.isEmpty else { return nil }
        let labelWidth = 170.0, chartWidth = 440.0, valueWidth = 70.0, rowHeight = 26.0, barHeight = 16.0
        let most = Double(max(facets.map(\.count).max() ?? 1, 1))
        let bars: [[String: Any]] = facets.enumerated().map { index, facet in
            let top = Double(index) * rowHeight + 4
            let barWidth = max(1, Double(facet.count) / most * chartWidth)
            return [
                "label": facet.value ?? "(none)", "count": String(facet.count),
                "x": DashboardFormat.coordinate(labelWidth), "y": DashboardFormat.coordinate(top),
                "barWidth": DashboardFormat.coordinate(barWidth), "barHeight": DashboardFormat.coordinate(barHeight),
                "textY": DashboardFormat.coordinate(top + 12.5), "valueX": DashboardFormat.coordinate(labelWidth + barWidth + 6),
            ]
        }
        return [
            "width": DashboardFormat.coordinate(labelWidth + chartWidth + valueWidth),
            "height": DashboardFormat.coordinate(Double(facets.count) * rowHeight + 8), "bars": bars,
        ]
    }
}
