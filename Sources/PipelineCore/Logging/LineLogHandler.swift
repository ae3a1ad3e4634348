import Foundation
import Logging
import PipelineJSON

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

    /// `<ts> <LEVEL> [stage] run=<id> <message> key=value …`, one line whatever the values hold:
    /// control characters in the message, the keys and the values are escaped (``escapeControls(_:)``:
    /// a newline prints as `\n`), so a value (a department name, an upstream error) cannot start a
    /// forged line. A value with a space, `"`, `=`, `\` or a control character is quoted, with
    /// `"` and `\` escaped inside the quotes, so every escape sits in a quoted value.
    static func textLine(_ date: Date, _ level: Logger.Level, _ stage: String, _ message: String, _ metadata: Logger.Metadata) -> String {
        var line = "\(timestamp(date)) \(level.rawValue.uppercased().padding(toLength: 5, withPad: " ", startingAt: 0)) [\(escapeControls(stage))]"
        if let run = metadata["run_id"] { line += " run=\(textValue(run))" }
        line += " \(escapeControls(message))"
        for key in metadata.keys.sorted() where key != "run_id" {
            line += " \(textKey(key))=\(textValue(metadata[key]!))"
        }
        return line
    }

    /// One JSON object: `ts`, `level`, `stage`, `msg`, then the metadata, keys sorted. Valid JSON
    /// for any value: strings are escaped by the project's one JSON writer (every control
    /// character, quotes and backslashes), numbers that JSON cannot hold (NaN, infinities) are written as
    /// strings, and a metadata key that collides with one of the four fixed keys is kept as
    /// `meta.<key>` rather than dropped.
    static func jsonLine(_ date: Date, _ level: Logger.Level, _ stage: String, _ message: String, _ metadata: Logger.Metadata) -> String {
        var members: [(String, Logger.MetadataValue)] = [
            ("ts", .string(timestamp(date))), ("level", .string(level.rawValue)), ("stage", .string(stage)), ("msg", .string(message)),
        ]
        let fixed: Set<String> = ["ts", "level", "stage", "msg"]
        for (key, value) in metadata { members.append((fixed.contains(key) ? "meta.\(key)" : key, value)) }
        members.sort { $0.0 < $1.0 }
        return JSONWriter.string(.object(members.map { JSONMember($0.0, json($0.1)) }))
    }

    private static func textKey(_ key: String) -> String {
        let escaped = escapeControls(key)
        return escaped.isEmpty ? "_" : String(escaped.map { $0 == " " || $0 == "=" || $0 == "\"" ? "_" : $0 })
    }

    private static func textValue(_ value: Logger.MetadataValue) -> String {
        let text = value.description
        let plain = !text.isEmpty && !text.unicodeScalars.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" || isControl($0) }
        guard !plain else { return text }
        return "\"" + escapeControls(text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")) + "\""
    }

    /// `text` with every control character (C0, DEL, C1) and the Unicode line and paragraph
    /// separators written as escapes: `\n`, `\r`, `\t`, else `\u{XX}`. Other text is kept as is.
    static func escapeControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 8)
        for scalar in text.unicodeScalars {
            guard isControl(scalar) else { out.unicodeScalars.append(scalar); continue }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// A metadata value as JSON. Numbers and flags stay numbers and flags, so `jq '.rows > 100'`
    /// works on the JSON lines; a number JSON cannot hold (NaN, infinities) becomes a string.
    private static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let s): .string(s)
        case .stringConvertible(let c):
            switch c {
            case let n as Int: .int(n)
            case let n as Double where n.isFinite: .number("\(n)")
            case let b as Bool: .bool(b)
            default: .string(c.description)
            }
        case .array(let items): .array(items.map(json))
        case .dictionary(let members): .object(members.keys.sorted().map { JSONMember($0, json(members[$0]!)) })
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
        try? bytes.withUnsafeBytes { try FileDescriptorIO.writeAll(STDOUT_FILENO, $0) }
    }
}

/// Installs ``LineLogHandler`` for the whole process. Call once, first thing in `main`.
public enum PipelineLogging {
    public static func bootstrap(stage: String, settings: LogSettings) {
        LoggingSystem.bootstrap { label in
            LineLogHandler(stage: label == stage ? stage : "\(stage)/\(label)", level: settings.level, format: settings.format)
        }
    }
}
