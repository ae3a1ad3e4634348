import Foundation
import GRDB
import PipelineCore
import PipelineDatabase
import PipelineJSON

/// One row of `etl_runs` as the API shows it: the stored ``EtlRun`` (its members read through
/// this type, `run.status`), with its file lists as the API shows them.
@dynamicMemberLookup
public struct RunResource: Sendable, Equatable {
    public var run: EtlRun
    /// `staged_files` and `remote_files` as the API shows them (``FileEntry/json(fromJSON:)``):
    /// written once from the stored column, then copied into each answer.
    public var stagedFilesJSON: JSONValue
    public var remoteFilesJSON: JSONValue

    public var stagedFiles: [FileEntry] { FileEntry.list(stagedFilesJSON) }
    public var remoteFiles: [FileEntry] { FileEntry.list(remoteFilesJSON) }

    public subscript<Value>(dynamicMember member: KeyPath<EtlRun, Value>) -> Value { run[keyPath: member] }

    /// The keys of ``json``, in order: the columns of the CSV answer.
    public static let keys = [
        "run_id", "status", "failed_phase", "error", "started_at", "finished_at", "duration_ms", "counts", "staged_files", "remote_files",
    ]

    /// A stored run as the API shows it.
    init(_ run: EtlRun) {
        var tape = JSONTape()
        self.init(run, tape: &tape)
    }

    /// The same, parsing the file columns on `tape` (reused from run to run of a page).
    init(_ run: EtlRun, tape: inout JSONTape) {
        self.run = run
        stagedFilesJSON = FileEntry.json(fromJSON: run.stagedFiles, tape: &tape)
        remoteFilesJSON = FileEntry.json(fromJSON: run.remoteFiles, tape: &tape)
    }

    public var json: JSONValue {
        [
            "run_id": .string(run.runID),
            "status": .string(run.status),
            "failed_phase": .string(run.failedPhase),
            "error": .string(run.error),
            "started_at": .string(run.startedAt),
            "finished_at": .string(run.finishedAt),
            "duration_ms": .int(run.durationMs),
            "counts": [
                "extracted": .int(run.extracted),
                "valid": .int(run.valid),
                "invalid": .int(run.invalid),
                "loaded": .int(run.loaded),
                "unknown_department": .int(run.unknownDepartment),
            ],
            "staged_files": stagedFilesJSON,
            "remote_files": remoteFilesJSON,
        ]
    }
}

/// A staged or uploaded file of a run: its name (never the staging path it had on the stage's
/// volume), rows, size and SHA-256.
public struct FileEntry: Sendable, Equatable {
    public var name: String
    public var rows: Int?
    public var bytes: Int?
    public var sha256: String?

    /// The `staged_files`/`remote_files` JSON column (an array of `{path|name, rows, bytes,
    /// sha256}`) as the API shows it: `[{"name", "rows", "bytes", "sha256"}]`, the name being
    /// ``displayName(_:)`` of `path` when there is no `name`. Entries without a name are skipped, a
    /// member of the wrong type reads as `null`, and unreadable text reads as no files.
    ///
    /// Written straight off a ``JSONTape``: strings keep their JSON spelling and no tree of values
    /// is built (a page of runs holds 8 files per run).
    static func json(fromJSON text: String?, tape: inout JSONTape) -> JSONValue {
        guard var text else { return .array([]) }
        let out = text.withUTF8 { buffer -> [UInt8] in
            let bytes = UnsafeRawBufferPointer(buffer)
            guard (try? tape.parse(bytes)) != nil, tape.root.kind == .array else { return Array("[]".utf8) }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            out.append(UInt8(ascii: "["))
            var first = true
            var item = 1
            for _ in 0..<Int(tape.root.count) {
                defer { item = Int(tape.nodes[item].next) }
                guard tape.nodes[item].kind == .object else { continue }
                // The first member of each name counts, as in a lookup on a parsed object.
                var name = -1, path = -1, rows = -1, size = -1, sha256 = -1
                tape.forEachMember(of: item) { key, value in
                    if name < 0, tape.keyEquals(key, "name", in: bytes) { name = value }
                    else if path < 0, tape.keyEquals(key, "path", in: bytes) { path = value }
                    else if rows < 0, tape.keyEquals(key, "rows", in: bytes) { rows = value }
                    else if size < 0, tape.keyEquals(key, "bytes", in: bytes) { size = value }
                    else if sha256 < 0, tape.keyEquals(key, "sha256", in: bytes) { sha256 = value }
                }
                func isString(_ index: Int) -> Bool { index >= 0 && tape.nodes[index].kind == .string }
                let start = out.count
                if !first { out.append(UInt8(ascii: ",")) }
                out.append("{\"name\":")
                if isString(name) {
                    guard tape.nodes[name].end - tape.nodes[name].start > 2 else { out.removeSubrange(start...); continue }
                    out.append(tape.text(name, in: bytes))
                } else if isString(path) {
                    let shown = displayName(tape.decodedString(path, in: bytes))
                    guard !shown.isEmpty else { out.removeSubrange(start...); continue }
                    out.appendJSONString(shown)
                } else {
                    out.removeSubrange(start...)
                    continue
                }
                first = false
                out.append(",\"rows\":")
                appendInt(rows, tape, bytes, &out)
                out.append(",\"bytes\":")
                appendInt(size, tape, bytes, &out)
                out.append(",\"sha256\":")
                if isString(sha256) { out.append(tape.text(sha256, in: bytes)) } else { out.append("null") }
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
            return out
        }
        return .fragment(JSONFragment(uncheckedBytes: out))
    }

    private static func appendInt(_ index: Int, _ tape: JSONTape, _ bytes: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
        if index >= 0, let value = tape.intValue(index, in: bytes) { out.appendInt(value) } else { out.append("null") }
    }

    /// The entries of a value written by ``json(fromJSON:)``.
    static func list(_ json: JSONValue) -> [FileEntry] {
        (json.arrayValue ?? []).compactMap { item in
            guard let name = item["name"]?.stringValue else { return nil }
            return FileEntry(name: name, rows: item["rows"]?.intValue, bytes: item["bytes"]?.intValue, sha256: item["sha256"]?.stringValue)
        }
    }

    /// A staged or remote file's name as shown: its last path component, with the chunk folder
    /// in front for a chunk's file (`chunks/000003/users.jsonl`), so a chunked run's files are
    /// told apart.
    static func displayName(_ path: String) -> String {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard let last = parts.popLast() else { return "" }
        if parts.count >= 2, parts[parts.count - 2] == "chunks", let folder = parts.last,
           folder.count == 6, folder.allSatisfy(\.isNumber) {
            return "chunks/\(folder)/\(last)"
        }
        return String(last)
    }

    public var json: JSONValue {
        ["name": .string(name), "rows": .int(rows), "bytes": .int(bytes), "sha256": .string(sha256)]
    }
}

/// One row of `users` as the API shows it: the stored ``User`` (its members read through this
/// type, `user.email`), with its payload masked once more on the way out (``PayloadMasker``).
@dynamicMemberLookup
public struct UserResource: Sendable, Equatable {
    /// The row, but for its `payload`, left empty (see ``columns``).
    public var user: User
    /// The enriched row as in users.jsonl, masked again.
    public var payload: JSONValue

    public subscript<Value>(dynamicMember member: KeyPath<User, Value>) -> Value { user[keyPath: member] }

    /// The keys of ``json``, in order: the columns of the CSV answer.
    public static let keys = User.Columns.allCases.filter { $0 != .payload && $0 != .lastSeenRunID }.map(\.rawValue) + ["payload"]

    /// What ``init(row:masker:)`` reads: the table's columns for ``User/init(row:)``, the payload
    /// blank there and selected again last, to be masked straight from SQLite's buffer (no
    /// `String` made of it, and bytes that are not UTF-8 are not repaired into JSON).
    static let columns = selection(of: User.Columns.allCases, payload: User.Columns.payload)

    init(row: Row, masker: inout PayloadMasker) {
        user = User(row: row)
        payload = masker.read(row, atIndex: User.Columns.allCases.count)
    }

    public var json: JSONValue {
        [
            "id": .int(user.id),
            "run_id": .string(user.runID),
            "full_name": .string(user.fullName),
            "email": .string(user.email),
            "email_domain": .string(user.emailDomain),
            "age": .int(user.age),
            "age_group": .string(user.ageGroup),
            "department": .string(user.department),
            "department_code": .string(user.departmentCode),
            "bmi": .double(user.bmi),
            "bmi_category": .string(user.bmiCategory),
            "birth_date": .string(user.birthDate),
            "record_hash": .string(user.recordHash),
            "inserted_at": .string(user.insertedAt),
            "updated_at": .string(user.updatedAt),
            "payload": payload,
        ]
    }
}

/// One row of `dlq_records` as the API shows it: the stored ``DLQRecord`` with its reasons read
/// and its payload masked once more (for a line that was not a JSON object, the placeholder the
/// transformer wrote in its place: docs/STAGING.md).
@dynamicMemberLookup
public struct DLQResource: Sendable, Equatable {
    public var record: DLQRecord
    public var reasons: [Reason]
    public var payload: JSONValue

    public struct Reason: Sendable, Equatable {
        public var field: String
        public var rule: String
        public var message: String
    }

    public subscript<Value>(dynamicMember member: KeyPath<DLQRecord, Value>) -> Value { record[keyPath: member] }

    /// The keys of ``json``, in order: the columns of the CSV answer.
    public static let keys = DLQRecord.Columns.allCases.map(\.rawValue)

    /// What ``init(row:masker:)`` reads, as ``UserResource/columns``.
    static let columns = selection(of: DLQRecord.Columns.allCases, payload: DLQRecord.Columns.payload)

    init(row: Row, masker: inout PayloadMasker) {
        record = DLQRecord(row: row)
        reasons = ((try? JSONValue.parse(record.reasons))?.arrayValue ?? []).map { item in
            Reason(
                field: item["field"]?.stringValue ?? "", rule: item["rule"]?.stringValue ?? "",
                message: item["message"]?.stringValue ?? "")
        }
        payload = masker.read(row, atIndex: DLQRecord.Columns.allCases.count)
    }

    public var json: JSONValue {
        [
            "run_id": .string(record.runID),
            "line": .int(record.line),
            "reasons": .array(reasons.map { ["field": .string($0.field), "rule": .string($0.rule), "message": .string($0.message)] }),
            "payload": payload,
            "inserted_at": .string(record.insertedAt),
        ]
    }
}

extension EtlRunEvent {
    /// An event as `/etl_runs/{run_id}/events` shows it.
    public var json: JSONValue {
        ["id": .int(id), "run_id": .string(runID), "at": .string(at), "stage": .string(stage), "event": .string(event), "detail": .string(detail)]
    }
}

/// A record's columns in table order with its payload column blank (`''`), then the payload
/// again, last: the selection of a resource that masks the payload from SQLite's buffer.
private func selection<Column: ColumnExpression>(of columns: [Column], payload: Column) -> String {
    (columns.map { $0.name == payload.name ? "'' AS \($0.name)" : $0.name } + [payload.name]).joined(separator: ", ")
}

/// The JSON payload columns, masked again on the way out (docs/API.md, "Secrets" and "Payloads
/// are served as stored"): `SecretMasking`'s splice over a ``JSONTape``, kept as a
/// ``JSONFragment``; text that does not parse reads as `null`, never passed through unmasked. One
/// masker serves a page: its tape and its cache of key treatments are reused from row to row.
struct PayloadMasker {
    let masking: SecretMasking
    private var tape = JSONTape()
    private var cache = SecretKeyCache()

    init(_ masking: SecretMasking) {
        self.masking = masking
    }

    /// The masked payload in column `index` of `row`, read from SQLite's own buffer when the
    /// row comes from a cursor (no `String` made of it first).
    mutating func read(_ row: Row, atIndex index: Int) -> JSONValue {
        (try? row.withUnsafeData(atIndex: index) { data -> JSONValue in
            guard let data else { return .null }
            return data.withUnsafeBytes { bytes in masked(bytes) }
        }) ?? .null
    }

    private mutating func masked(_ bytes: UnsafeRawBufferPointer) -> JSONValue {
        guard (try? tape.parse(bytes)) != nil else { return .null }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        masking.append(tape, 0, in: bytes, to: &out, cache: &cache)
        return .fragment(JSONFragment(uncheckedBytes: out))
    }
}
