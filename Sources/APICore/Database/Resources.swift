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

    /// The last component of a path (`/data/runs/<id>/users.jsonl` → `users.jsonl`).
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

/// One row of `users`: the latest enriched state of a user.
public struct UserResource: Sendable, Equatable {
    public var id: Int
    public var runID: String
    public var fullName: String
    public var email: String
    public var emailDomain: String
    public var age: Int
    public var ageGroup: String
    public var department: String
    public var departmentCode: String
    public var bmi: Double?
    public var bmiCategory: String?
    public var birthDate: String?
    public var recordHash: String
    public var insertedAt: String
    public var updatedAt: String
    /// The enriched row as in users.jsonl, masked once more on the way out (``PayloadMasker``).
    public var payload: JSONValue

    /// The keys of ``json``, in order: the columns of the CSV answer.
    public static let keys = [
        "id", "run_id", "full_name", "email", "email_domain", "age", "age_group", "department", "department_code", "bmi",
        "bmi_category", "birth_date", "record_hash", "inserted_at", "updated_at", "payload",
    ]

    /// The columns of `users` read, in the order ``init(row:masker:)`` reads them: by position (a
    /// lookup by name costs a hash per column and row), the payload straight from SQLite's buffer.
    static let columns = [
        User.Columns.id, User.Columns.runID, User.Columns.fullName, User.Columns.email, User.Columns.emailDomain, User.Columns.age,
        User.Columns.ageGroup, User.Columns.department, User.Columns.departmentCode, User.Columns.bmi, User.Columns.bmiCategory,
        User.Columns.birthDate, User.Columns.recordHash, User.Columns.payload, User.Columns.insertedAt, User.Columns.updatedAt,
    ].map(\.name).joined(separator: ", ")

    /// Columns by position, in the order of ``columns``.
    init(row: Row, masker: inout PayloadMasker) {
        id = row[0]
        runID = row[1]
        fullName = row[2]
        email = row[3]
        emailDomain = row[4]
        age = row[5]
        ageGroup = row[6]
        department = row[7]
        departmentCode = row[8]
        bmi = row[9]
        bmiCategory = row[10]
        birthDate = row[11]
        recordHash = row[12]
        payload = masker.read(row, atIndex: 13)
        insertedAt = row[14]
        updatedAt = row[15]
    }

    public var json: JSONValue {
        [
            "id": .int(id),
            "run_id": .string(runID),
            "full_name": .string(fullName),
            "email": .string(email),
            "email_domain": .string(emailDomain),
            "age": .int(age),
            "age_group": .string(ageGroup),
            "department": .string(department),
            "department_code": .string(departmentCode),
            "bmi": .double(bmi),
            "bmi_category": .string(bmiCategory),
            "birth_date": .string(birthDate),
            "record_hash": .string(recordHash),
            "inserted_at": .string(insertedAt),
            "updated_at": .string(updatedAt),
            "payload": payload,
        ]
    }
}

/// One row of `dlq_records`: a rejected row with every reason.
public struct DLQResource: Sendable, Equatable {
    public var runID: String
    public var line: Int
    public var reasons: [Reason]
    /// The masked row, masked once more on the way out (``PayloadMasker``); for a line that was not
    /// a JSON object, the placeholder the transformer wrote in its place (docs/STAGING.md).
    public var payload: JSONValue
    public var insertedAt: String

    public struct Reason: Sendable, Equatable {
        public var field: String
        public var rule: String
        public var message: String
    }

    /// The keys of ``json``, in order: the columns of the CSV answer.
    public static let keys = ["run_id", "line", "reasons", "payload", "inserted_at"]

    /// The columns of `dlq_records` read, in the order ``init(row:masker:)`` reads them (by
    /// position, the payload straight from SQLite's buffer).
    static let columns = [
        DLQRecord.Columns.runID, DLQRecord.Columns.line, DLQRecord.Columns.reasons, DLQRecord.Columns.payload, DLQRecord.Columns.insertedAt,
    ].map(\.name).joined(separator: ", ")

    /// Columns by position, in the order of ``columns``.
    init(row: Row, masker: inout PayloadMasker) {
        runID = row[0]
        line = row[1]
        let reasonsText: String? = row[2]
        reasons = ((reasonsText.flatMap { try? JSONValue.parse($0) })?.arrayValue ?? []).map { item in
            Reason(
                field: item["field"]?.stringValue ?? "", rule: item["rule"]?.stringValue ?? "",
                message: item["message"]?.stringValue ?? "")
        }
        payload = masker.read(row, atIndex: 3)
        insertedAt = row[4]
    }

    public var json: JSONValue {
        [
            "run_id": .string(runID),
            "line": .int(line),
            "reasons": .array(reasons.map { ["field": .string($0.field), "rule": .string($0.rule), "message": .string($0.message)] }),
            "payload": payload,
            "inserted_at": .string(insertedAt),
        ]
    }
}

extension EtlRunEvent {
    /// An event as `/etl_runs/{run_id}/events` shows it.
    public var json: JSONValue {
        ["id": .int(id), "run_id": .string(runID), "at": .string(at), "stage": .string(stage), "event": .string(event), "detail": .string(detail)]
    }
}

/// The JSON payload columns, masked again on the way out: the transformer masked every row before
/// it was stored, so on a database the pipeline wrote this changes nothing; a row written by a
/// buggy or older stage still cannot leak a secret through the API. Text that does not parse
/// (which the saver never writes) reads as `null` rather than failing the whole page, and is
/// never passed through, since it could not be masked.
///
/// The masking is `SecretMasking`'s splice over a ``JSONTape`` (the transformer's own path): the
/// text is parsed once, without building a tree, and copied in runs around the secrets; what it
/// writes is valid compact JSON, so the answer carries it as a ``JSONFragment``, spliced into the
/// response as it is rather than parsed into a `JSONValue` and written again (docs/API.md,
/// "Payloads are served as stored"). One masker serves a page: its tape and its cache of key
/// treatments are reused from row to row.
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
