import Foundation
import Logging

/// A swift-log handler that writes one line per event to stdout, as text or JSON.
///
/// Every line carries the stage (the logger's label) and, when set, the run id, so that
/// `docker compose logs` of four stages interleave into something a person can follow and a
/// machine can parse (`LOG_FORMAT=json`). Metadata keys are printed sorted, `run_id` first.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level

    private let stage: String
    private let format: LogSettings.Format
    private let sink: LineSink

    public init(stage: String, level: Logger.Level, format: LogSettings.Format, sink: LineSink = .standardOutput) {
        self.stage = stage
        self.logLevel = level
        self.format = format
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error"] = "\(error)" }
        let line: String
        switch format {
        case .text: line = Self.textLine(Date(), event.level, stage, event.message.description, merged)
        case .json: line = Self.jsonLine(Date(), event.level, stage, event.message.description, merged)
        }
        sink.write(line)
    }

    static func textLine(_ date: Date, _ level: Logger.Level, _ stage: String, _ message: String, _ metadata: Logger.Metadata) -> String {
        var line = "\(timestamp(date)) \(level.rawValue.uppercased().padding(toLength: 5, withPad: " ", startingAt: 0)) [\(stage)]"
        if let run = metadata["run_id"] { line += " run=\(run)" }
        line += " \(message)"
        for key in metadata.keys.sorted() where key != "run_id" {
            line += " \(key)=\(textValue(metadata[key]!))"
        }
        return line
    }

    static func jsonLine(_ date: Date, _ level: Logger.Level, _ stage: String, _ message: String, _ metadata: Logger.Metadata) -> String {
        var object: [String: Any] = ["ts": timestamp(date), "level": level.rawValue, "stage": stage, "msg": message]
        for (key, value) in metadata where object[key] == nil { object[key] = jsonValue(value) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return #"{"level":"error","msg":"unencodable log line"}"#
        }
        return String(decoding: data, as: UTF8.self)
    }

    private static func textValue(_ value: Logger.MetadataValue) -> String {
        let text = value.description
        return text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || text.isEmpty ? "\"\(text.replacingOccurrences(of: "\"", with: "\\\""))\"" : text
    }

    private static func jsonValue(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c):
            // Numbers and flags stay numbers and flags, so `jq '.rows > 100'` works on the JSON lines.
            switch c {
            case let n as Int: return n
            case let n as Double: return n
            case let b as Bool: return b
            default: return c.description
            }
        case .array(let a): return a.map(jsonValue)
        case .dictionary(let d): return d.mapValues(jsonValue)
        }
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true).timeSeparator(.colon))
    }
}

/// Where finished log lines go. Each line is written with one `write(2)` so concurrent lines never interleave.
public struct LineSink: Sendable {
    private let writeLine: @Sendable (String) -> Void

    public init(_ writeLine: @escaping @Sendable (String) -> Void) {
        self.writeLine = writeLine
    }

    public func write(_ line: String) { writeLine(line) }

    public static let standardOutput = LineSink { line in
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        try? FileDescriptorIO.writeAll(STDOUT_FILENO, bytes)
    }
}

extension LogSettings.Level {
    public var loggerLevel: Logger.Level {
        switch self {
        case .trace: .trace
        case .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }
}

/// Installs ``LineLogHandler`` for the whole process. Call once, first thing in `main`.
public enum PipelineLogging {
    public static func bootstrap(stage: String, settings: LogSettings) {
        LoggingSystem.bootstrap { label in
            LineLogHandler(stage: label == stage ? stage : "\(stage)/\(label)", level: settings.level.loggerLevel, format: settings.format)
        }
    }
}
