import Foundation
import GRDB
import PipelineCore
import PipelineDatabase
import PipelineRedis
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Every byte a run let out of staging, by where it was found, and a search of them for secret
/// values in every form a leak could take.
///
/// What counts as "out of staging" (docs/STAGING.md, "Nothing unmasked leaves staging"): the
/// transformer's outputs (`users.jsonl`, `dlq.jsonl`, `raw.masked.jsonl`), the SQLite file (every
/// row of every table as text, and the file and its WAL as bytes), every file on the SFTP server,
/// every body the API answers (runs, DLQ and users paged through to the end, each user by id, the
/// events), every stage's log, and every value in Redis. The fixture's own log is the upstream's,
/// not the pipeline's, and is left out; so is `raw.jsonl`, which is staging itself.
package struct Exposure {
    package struct Source {
        package var name: String
        package var bytes: [UInt8]
    }

    package private(set) var sources: [Source] = []

    package mutating func add(_ name: String, _ bytes: [UInt8]) {
        sources.append(Source(name: name, bytes: bytes))
    }

    package mutating func add(_ name: String, _ text: String) {
        add(name, Array(text.utf8))
    }

    package mutating func addFile(_ name: String, path: String) {
        if let data = FileManager.default.contents(atPath: path) { add(name, [UInt8](data)) }
    }

    package var byteCount: Int { sources.reduce(0) { $0 + $1.bytes.count } }

    /// Reads everything the pipeline `p` let out (its API must be running).
    package static func collect(_ p: Pipeline) async throws -> Exposure {
        var exposure = Exposure()

        // Staged outputs of every run.
        for run in (try? p.layout.stagedRuns()) ?? [] {
            var index = 0
            while FileManager.default.fileExists(atPath: p.layout.chunkDirectory(run, index)) {
                for file in [ChunkFile.users, .dlq, .rawMasked] {
                    exposure.addFile("staged \(run)/chunks/\(ChunkName.number(index))/\(file.rawValue)", path: p.layout.chunkFile(run, index, file))
                }
                index += 1
            }
        }

        // SQLite: every row of every table, every column as text; and the files themselves.
        if FileManager.default.fileExists(atPath: p.databasePath) {
            let reader = try PipelineDatabase.openReader(path: p.databasePath)
            let tables = try await reader.read { db -> [(String, [UInt8])] in
                let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                return try names.map { table in
                    var bytes: [UInt8] = []
                    for row in try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\"") {
                        for (column, value) in row {
                            bytes += Array("\(column)=".utf8) + Self.text(of: value) + [0x0A]
                        }
                    }
                    return (table, bytes)
                }
            }
            try reader.close()
            for (table, bytes) in tables { exposure.add("sqlite table \(table)", bytes) }
            for suffix in ["", "-wal"] {
                exposure.addFile("sqlite file data.db\(suffix)", path: p.databasePath + suffix)
            }
        }

        // The SFTP server's upload/ directory, on disk.
        for name in (try? FileManager.default.subpathsOfDirectory(atPath: p.uploadDirectory))?.sorted() ?? [] {
            exposure.addFile("sftp \(name)", path: p.uploadDirectory + "/" + name)
        }

        // The API, as a user pages through it.
        let runs = try await p.apiBody("/etl_runs?limit=500")
        exposure.add("GET /etl_runs", runs)
        let runIDs = (try JSONSerialization.jsonObject(with: Data(runs.utf8)) as? [[String: Any]] ?? []).compactMap { $0["run_id"] as? String }
        for id in runIDs {
            exposure.add("GET /etl_runs/\(id)", try await p.apiBody("/etl_runs/\(id)"))
            exposure.add("GET /etl_runs/\(id)/events", try await p.apiBody("/etl_runs/\(id)/events"))
            for (offset, page) in try await p.apiPages("/etl_runs/\(id)/dlq").enumerated() {
                exposure.add("GET /etl_runs/\(id)/dlq page \(offset + 1)", page)
            }
        }
        var userIDs: [Int] = []
        for (offset, page) in try await p.apiPages("/users").enumerated() {
            exposure.add("GET /users page \(offset + 1)", page)
            let users = try JSONSerialization.jsonObject(with: Data(page.utf8)) as? [[String: Any]] ?? []
            userIDs += users.compactMap { $0["id"] as? Int }
        }
        // One curl for a batch of ids: the bodies come back one after another.
        for batch in stride(from: 0, to: userIDs.count, by: 100).map({ Array(userIDs[$0..<min($0 + 100, userIDs.count)]) }) {
            let body = try await runCommand("curl", ["-fsS", "--max-time", "30"] + batch.map { p.apiURL + "/users/\($0)" })
            exposure.add("GET /users/{id} for ids \(batch.first!)…\(batch.last!)", body)
        }

        // Every stage's log (the fixture's is the upstream's).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: p.logsDirectory))?.sorted() ?? [] where name != "dummyjson.log" {
            exposure.addFile("log \(name)", path: p.logsDirectory + "/" + name)
        }

        // Every value in Redis (the ledger, claims, anything else).
        exposure.add("redis", try await p.redisDump())
        return exposure
    }

    package static func text(of value: DatabaseValue) -> [UInt8] {
        switch value.storage {
        case .null: Array("NULL".utf8)
        case .int64(let n): Array(String(n).utf8)
        case .double(let d): Array(String(d).utf8)
        case .string(let s): Array(s.utf8)
        case .blob(let data): [UInt8](data)
        }
    }

    /// `"<source>: <secret> as <form>"` for every form of every secret found in a source.
    package func hits(of secrets: [String]) -> [String] {
        let needles = secrets.flatMap { secret in SecretForms.needles(secret).map { (secret, $0.form, $0.bytes) } }
        var found: [String] = []
        for source in sources {
            for (secret, form, needle) in needles where Exposure.contains(source.bytes, needle) {
                found.append("\(source.name): \(secret) as \(form)")
            }
        }
        return found
    }

    /// The secrets of which no form occurs anywhere in `bytes`.
    package static func missing(_ secrets: [String], in bytes: [UInt8]) -> [String] {
        secrets.filter { secret in !SecretForms.needles(secret).contains { contains(bytes, $0.bytes) } }
    }

    /// Whether `needle` occurs in `haystack`: `memchr` to the next candidate first byte, then
    /// `memcmp` (fast enough in a debug build for megabytes times hundreds of needles).
    package static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        return haystack.withUnsafeBytes { h in
            needle.withUnsafeBytes { n in
                guard let base = h.baseAddress, h.count >= n.count else { return false }
                let last = base + (h.count - n.count)
                var at = base
                while at <= last {
                    guard let hit = memchr(at, Int32(first), last - at + 1) else { return false }
                    if memcmp(hit, n.baseAddress!, n.count) == 0 { return true }
                    at = UnsafeRawPointer(hit) + 1
                }
                return false
            }
        }
    }
}

/// The forms a secret can take in bytes: its text, and JSON's ways of writing it.
package enum SecretForms {
    /// For the whole value, the value without its last four characters (a `last4` mask may keep
    /// those), and for text secrets their first 8 characters (`S3cr3tNN`, which name one secret
    /// alone): plain UTF-8; JSON-escaped (quote, backslash and control characters; also `/` as
    /// `\/`, and non-ASCII as `\u` escapes); and every character `\u`-escaped, in lower- and
    /// upper-case hex.
    package static func needles(_ secret: String) -> [(form: String, bytes: [UInt8])] {
        var texts = [("value", secret), ("value without its last 4", String(secret.dropLast(4)))]
        if !secret.allSatisfy(\.isNumber) { texts.append(("first 8", String(secret.prefix(8)))) }
        var out: [(String, [UInt8])] = []
        var seen = Set<[UInt8]>()
        for (part, text) in texts {
            let forms: [(String, String)] = [
                ("plain", text),
                ("JSON-escaped", jsonEscaped(text, slash: false, ascii: false)),
                ("JSON-escaped with \\/", jsonEscaped(text, slash: true, ascii: false)),
                ("JSON-escaped ASCII-only", jsonEscaped(text, slash: false, ascii: true)),
                ("JSON-escaped ASCII-only, upper-case hex", jsonEscaped(text, slash: false, ascii: true).uppercasedHexEscapes),
                ("\\u-escaped", unicodeEscaped(text)),
                ("\\u-escaped, upper-case hex", unicodeEscaped(text).uppercasedHexEscapes),
            ]
            for (form, value) in forms where seen.insert(Array(value.utf8)).inserted {
                out.append(("\(part), \(form)", Array(value.utf8)))
            }
        }
        return out
    }

    package static func jsonEscaped(_ text: String, slash: Bool, ascii: Bool) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/" where slash: out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || (ascii && scalar.value > 0x7E):
                out += String(scalar).utf16.map { String(format: "\\u%04x", $0) }.joined()
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    package static func unicodeEscaped(_ text: String) -> String {
        text.utf16.map { String(format: "\\u%04x", $0) }.joined()
    }
}

extension String {
    /// `\u00fc` → `\u00FC`.
    fileprivate var uppercasedHexEscapes: String {
        var out = ""
        var rest = Substring(self)
        while let range = rest.range(of: "\\u") {
            out += rest[..<range.upperBound]
            let hex = rest[range.upperBound...].prefix(4)
            out += hex.uppercased()
            rest = rest[range.upperBound...].dropFirst(hex.count)
        }
        return out + rest
    }
}

extension Pipeline {
    /// A GET of the API through curl; the body.
    package func apiBody(_ path: String) async throws -> String {
        try await runCommand("curl", ["-fsS", "--max-time", "10", apiURL + path])
    }

    /// Every page of a paged API list (`limit` 500, `offset` on until a short page).
    package func apiPages(_ path: String) async throws -> [String] {
        var pages: [String] = []
        var offset = 0
        for _ in 0..<1_000 {
            let separator = path.contains("?") ? "&" : "?"
            let body = try await apiBody("\(path)\(separator)limit=500&offset=\(offset)")
            pages.append(body)
            let count = (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [Any])?.count ?? 0
            if count < 500 { break }
            offset += count
        }
        return pages
    }

    /// Every key in Redis with its value, whatever its type, as text.
    package func redisDump() async throws -> [UInt8] {
        var out: [UInt8] = []
        func flatten(_ reply: RedisReply) {
            switch reply {
            case .status(let s), .error(let s): out += Array(s.utf8) + [0x0A]
            case .integer(let n): out += Array(String(n).utf8) + [0x0A]
            case .bulk(let bytes): out += bytes + [0x0A]
            case .null: break
            case .array(let items): for item in items { flatten(item) }
            }
        }
        guard case .array(let keys) = try await redis.send("KEYS", "*") else { return out }
        for key in keys.compactMap(\.string).sorted() {
            out += Array("\(key):\n".utf8)
            let type = try await redis.send("TYPE", key).string ?? ""
            switch type {
            case "string": flatten(try await redis.send("GET", key))
            case "hash": flatten(try await redis.send("HGETALL", key))
            case "list": flatten(try await redis.send("LRANGE", key, "0", "-1"))
            case "set": flatten(try await redis.send("SMEMBERS", key))
            case "zset": flatten(try await redis.send("ZRANGE", key, "0", "-1"))
            case "stream": flatten(try await redis.send("XRANGE", key, "-", "+"))
            default: out += Array("(type \(type))\n".utf8)
            }
        }
        return out
    }
}
