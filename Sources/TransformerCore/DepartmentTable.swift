import Foundation
import PipelineCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Department name → short code (`Engineering` → `ENG`), from a CSV with the header `name,code`.
///
/// The table shipped in the repository (`Resources/departments.csv`) covers the 12 DummyJSON
/// departments; `DEPARTMENTS_CSV` points at another file. A name matches exactly or, failing
/// that, ignoring case and surrounding whitespace.
public struct DepartmentTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var code: String

        public init(name: String, code: String) {
            self.name = name
            self.code = code
        }
    }

    /// In file order.
    public let entries: [Entry]
    private let exact: [UInt64: [Int]]
    private let folded: [String: Int]

    public init(entries: [Entry]) {
        self.entries = entries
        var exact: [UInt64: [Int]] = [:]
        var folded: [String: Int] = [:]
        for (index, entry) in entries.enumerated() {
            var name = entry.name
            let hash = name.withUTF8 { Self.fnv1a(UnsafeRawBufferPointer($0)) }
            exact[hash, default: []].append(index)
            folded[Self.fold(entry.name)] = folded[Self.fold(entry.name)] ?? index
        }
        self.exact = exact
        self.folded = folded
    }

    public static func == (lhs: DepartmentTable, rhs: DepartmentTable) -> Bool { lhs.entries == rhs.entries }

    /// The code for a department name given as UTF-8 bytes, or `nil` when the table lacks it.
    public func code(forUTF8 name: UnsafeRawBufferPointer) -> String? {
        if let candidates = exact[Self.fnv1a(name)] {
            for index in candidates {
                var candidate = entries[index].name
                let same = candidate.withUTF8 { c in
                    c.count == name.count && (c.count == 0 || memcmp(c.baseAddress!, name.baseAddress!, c.count) == 0)
                }
                if same { return entries[index].code }
            }
        }
        return folded[Self.fold(String(decoding: name, as: UTF8.self))].map { entries[$0].code }
    }

    public func code(for name: String) -> String? {
        var name = name
        return name.withUTF8 { code(forUTF8: UnsafeRawBufferPointer($0)) }
    }

    static func fold(_ name: String) -> String {
        name.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    @inline(__always)
    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    // MARK: Loading

    /// Why a departments CSV cannot be used.
    public struct FormatError: Error, Equatable, CustomStringConvertible {
        public var line: Int?
        public var reason: String
        public var description: String { line.map { "line \($0): \(reason)" } ?? reason }
    }

    /// Parses CSV text (RFC 4180 quoting, `\n` or `\r\n` line ends, blank lines ignored) whose
    /// header is `name,code`: every row has both, non-empty, and no name appears twice.
    public init(csv: String) throws(FormatError) {
        let rows = try Self.parseCSV(csv)
        guard let header = rows.first else { throw FormatError(line: nil, reason: "the file is empty; expected the header name,code") }
        guard header.fields.map({ Self.fold($0) }) == ["name", "code"] else {
            throw FormatError(line: header.line, reason: "the header is \"\(header.fields.joined(separator: ","))\"; expected name,code")
        }
        var entries: [Entry] = []
        var seen: [String: Int] = [:]
        for row in rows.dropFirst() {
            guard row.fields.count == 2 else {
                throw FormatError(line: row.line, reason: "\(row.fields.count) field\(row.fields.count == 1 ? "" : "s"); expected 2 (name,code)")
            }
            let name = row.fields[0].trimmingCharacters(in: .whitespaces)
            let code = row.fields[1].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { throw FormatError(line: row.line, reason: "the name is empty") }
            guard !code.isEmpty else { throw FormatError(line: row.line, reason: "the code of \"\(name)\" is empty") }
            if let earlier = seen[Self.fold(name)] {
                throw FormatError(line: row.line, reason: "\"\(name)\" is already listed on line \(earlier)")
            }
            seen[Self.fold(name)] = row.line
            entries.append(Entry(name: name, code: code))
        }
        guard !entries.isEmpty else { throw FormatError(line: nil, reason: "the file lists no departments") }
        self.init(entries: entries)
    }

    /// The file at `path`, or a ``ConfigurationError`` naming `variable` that says what is wrong with it.
    public static func load(path: String, variable: String = "DEPARTMENTS_CSV") throws(ConfigurationError) -> DepartmentTable {
        let text: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw ConfigurationError(variable: variable, value: path, expected: "a UTF-8 CSV file (name,code)")
            }
            text = decoded
        } catch let error as ConfigurationError {
            throw error
        } catch {
            let reason = (error as NSError).localizedDescription
            throw ConfigurationError(variable: variable, value: path, expected: "a readable CSV file with the header name,code (\(reason))")
        }
        do {
            return try DepartmentTable(csv: text)
        } catch {
            throw ConfigurationError(variable: variable, value: path, expected: "a CSV file with the header name,code and one department per row (\(error))")
        }
    }

    /// The file name of the table shipped with the transformer.
    public static let bundledFileName = "departments.csv"
    /// The directory SwiftPM copies the target's resources into, next to the executable.
    public static let resourceDirectoryName = "etl-pipeline_TransformerCore.resources"

    /// Where the bundled table is: in the resource directory next to the executable (or the
    /// test runner). `nil` when it was not deployed with the binary.
    public static func bundledPath() -> String? {
        var directories: [String] = [Bundle.main.bundleURL.path]
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append((executable as NSString).deletingLastPathComponent)
        }
        if let resources = Bundle.main.resourceURL?.path { directories.append(resources) }
        for directory in directories {
            let path = "\(directory)/\(resourceDirectoryName)/\(bundledFileName)"
            if FileManager.default.isReadableFile(atPath: path) { return path }
        }
        return nil
    }

    /// The table shipped in the repository.
    public static func bundled() throws(ConfigurationError) -> DepartmentTable {
        guard let path = bundledPath() else {
            throw ConfigurationError(
                variable: "DEPARTMENTS_CSV", value: nil,
                expected: "a path to a departments CSV: the bundled \(resourceDirectoryName)/\(bundledFileName) is not next to the executable (copy that directory alongside it, or set DEPARTMENTS_CSV)")
        }
        return try load(path: path)
    }

    private struct Row {
        var line: Int
        var fields: [String]
    }

    private static func parseCSV(_ text: String) throws(FormatError) -> [Row] {
        var rows: [Row] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var rowLine = 1
        var inQuotes = false
        var afterQuote = false
        var fieldStarted = false
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        var i = 0
        func endRow() {
            if fieldStarted || !fields.isEmpty {
                fields.append(field)
                rows.append(Row(line: rowLine, fields: fields))
            }
            fields = []
            field = ""
            fieldStarted = false
            afterQuote = false
        }
        while i < scalars.count {
            let c = scalars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < scalars.count && scalars[i + 1] == "\"" {
                        field.unicodeScalars.append("\"")
                        i += 1
                    } else {
                        inQuotes = false
                        afterQuote = true
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "," {
                fields.append(field)
                field = ""
                fieldStarted = true
                afterQuote = false
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < scalars.count && scalars[i + 1] == "\n" { i += 1 }
                endRow()
                line += 1
                rowLine = line
            } else if c == "\"" && field.isEmpty && !afterQuote {
                inQuotes = true
                fieldStarted = true
            } else {
                if afterQuote && c != " " {
                    throw FormatError(line: line, reason: "text after a closing quote")
                }
                if !afterQuote { field.unicodeScalars.append(c) }
                fieldStarted = true
            }
            i += 1
        }
        if inQuotes { throw FormatError(line: rowLine, reason: "a quoted field is not closed") }
        endRow()
        return rows
    }
}
