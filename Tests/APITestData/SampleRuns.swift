import Foundation
import PipelineCore
import PipelineJSON
import TestSupport

/// Runs as the pipeline would have produced them: the lines of each staged file (docs/STAGING.md)
/// and the run record the saver writes last; deterministic for a given seed. ``SampleDatabase``
/// writes them with the saver's own transactions.
public struct SampleRun: Sendable {
    public var runID: RunID
    public var status: RunStatus
    public var failedPhase: Phase?
    public var error: String?
    public var startedAt: Date
    public var finishedAt: Date?
    public var counts: Counts
    /// `raw.masked.jsonl`: one line per raw line, secrets masked (what goes to `raw_users`).
    public var rawMaskedLines: [String]
    /// `users.jsonl`: the valid rows, masked and enriched.
    public var userLines: [String]
    /// `dlq.jsonl`: the rejected rows with every reason.
    public var dlqLines: [String]
    public var stagedFiles: [StagedFile]
    /// The uploaded files as the saver records them (`name` rather than `path`).
    public var remoteFiles: [RemoteFile]
    public var events: [Event]

    public struct Counts: Sendable, Equatable {
        public var extracted: Int?
        public var valid: Int?
        public var invalid: Int?
        public var loaded: Int?
        public var unknownDepartment: Int?
    }

    public struct RemoteFile: Sendable, Equatable {
        public var name: String
        public var rows: Int
        public var bytes: Int
        public var sha256: String
    }

    public struct Event: Sendable, Equatable {
        public var at: Date
        public var stage: String
        public var event: String
        public var detail: String?
    }

    public var durationMS: Int? {
        finishedAt.map { Int(($0.timeIntervalSince(startedAt) * 1000).rounded()) }
    }
}

/// Builds ``SampleRun``s with DummyJSON-shaped users.
public struct SampleRunGenerator {
    public var seed: UInt64
    /// When the first run starts; each later run starts `spacing` later.
    public var firstStart: Date
    public var spacing: TimeInterval
    /// Upstream users per run (ids 1...n, so later runs update the same users).
    public var usersPerRun: Int
    /// Rejected rows per run beyond the three every run has (a bad email and age each), so a
    /// run's dead letters can fill pages.
    public var extraBadRows: Int
    /// Which runs fail, and in which phase; the rest complete.
    public var failure: @Sendable (Int) -> Phase?

    public init(
        seed: UInt64 = 42,
        firstStart: Date = Date(timeIntervalSince1970: 1_790_000_000),  // 2026-09-22T...
        spacing: TimeInterval = 3600,
        usersPerRun: Int = 12,
        extraBadRows: Int = 0,
        failure: @escaping @Sendable (Int) -> Phase? = { index in
            switch index % 10 {
            case 3: .transform
            case 7: .save
            default: nil
            }
        }
    ) {
        self.seed = seed
        self.firstStart = firstStart
        self.spacing = spacing
        self.usersPerRun = usersPerRun
        self.extraBadRows = extraBadRows
        self.failure = failure
    }

    public static let departments: [(name: String, code: String)] = [
        ("Engineering", "ENG"), ("Support", "SUP"), ("Research and Development", "RND"), ("Human Resources", "HR"),
        ("Product Management", "PM"), ("Marketing", "MKT"), ("Services", "SRV"), ("Accounting", "ACC"),
        ("Training", "TRN"), ("Legal", "LEG"), ("Sales", "SAL"), ("Business Development", "BD"),
    ]

    /// A department the lookup table does not know: its users get `department_code` `UNKNOWN`.
    public static let unknownDepartment = "Quantum Research"

    private static let firstNames = ["Emily", "Michael", "Sophia", "James", "Emma", "Olivia", "Alexander", "Ava", "Ethan", "Isabella", "Liam", "Mia"]
    private static let lastNames = ["Johnson", "Williams", "Brown", "Davis", "Miller", "Wilson", "Moore", "Taylor", "Anderson", "Thomas", "Jackson", "White"]

    public func runs(count: Int) -> [SampleRun] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { index in run(index: index, rng: &rng) }
    }

    func run(index: Int, rng: inout SplitMix64) -> SampleRun {
        let startedAt = firstStart.addingTimeInterval(Double(index) * spacing)
        let runID = RunID(startingAt: startedAt, using: &rng)
        let failedPhase = failure(index)
        let extractedAt = startedAt.addingTimeInterval(4.25)
        let transformedAt = startedAt.addingTimeInterval(5.5)
        // Events as the saver records them (SaverCore's RunHistory and Saver): per phase `started`
        // and `completed` with its counts, or `failed` with the error; the saver's transactions
        // and uploads in between.
        var events = [SampleRun.Event(at: startedAt, stage: "extract", event: "started", detail: nil)]

        if failedPhase == .extract {
            let error = "upstream answered HTTP 503 after 3 retries"
            events.append(.init(at: startedAt.addingTimeInterval(2), stage: "extract", event: "failed", detail: error))
            return SampleRun(
                runID: runID, status: .failed, failedPhase: .extract, error: error,
                startedAt: startedAt, finishedAt: startedAt.addingTimeInterval(2), counts: .init(),
                rawMaskedLines: [], userLines: [], dlqLines: [], stagedFiles: [], remoteFiles: [], events: events)
        }

        // Raw rows: the upstream users, then three bad ones.
        var rawLines: [String] = []
        var maskedLines: [String] = []
        var userLines: [String] = []
        var dlqLines: [String] = []
        var unknown = 0
        for id in 1...usersPerRun {
            let user = upstreamUser(id: id, runIndex: index)
            let raw = user.text
            rawLines.append(raw)
            let masked = Self.mask(user)
            maskedLines.append(masked.text)
            let department = user["company"]?["department"]?.string ?? ""
            let code = Self.departments.first(where: { $0.name == department })?.code ?? "UNKNOWN"
            if code == "UNKNOWN" { unknown += 1 }
            userLines.append(enrich(masked, line: rawLines.count, runID: runID, code: code, raw: raw, extractedAt: extractedAt, transformedAt: transformedAt).text)
        }
        // A rejected upstream row: raw as received, masked, and its dead letter.
        func reject(_ user: JSONValue, _ reasons: [(String, String, String)]) {
            rawLines.append(user.text)
            maskedLines.append(Self.mask(user).text)
            dlqLines.append(dlq(line: rawLines.count, runID: runID, raw: rawLines.last!, transformedAt: transformedAt,
                                payload: Self.mask(user), reasons: reasons).text)
        }
        reject(upstreamUser(id: usersPerRun + 1, runIndex: index).setting("email", "not-an-email").setting("age", .int(71)), [
            ("email", "email_format", "\"not-an-email\" is not a valid email address"),
            ("age", "range", "71 is outside 18...65"),
        ])
        reject(upstreamUser(id: usersPerRun + 2, runIndex: index).setting("company", ["name": "Ghost LLC"]), [
            ("company.department", "required", "company.department is missing"),
        ])
        let notJSON = "{\"id\": \(usersPerRun + 3), \"firstName\": \"Trunc"
        rawLines.append(notJSON)
        maskedLines.append(JSONValue.string(notJSON).text)
        dlqLines.append(dlq(line: rawLines.count, runID: runID, raw: notJSON, transformedAt: transformedAt, payload: .string(notJSON), reasons: [
            ("row", "not_object", "the line is not a JSON object"),
        ]).text)
        for id in (usersPerRun + 4)..<(usersPerRun + 4 + extraBadRows) {
            reject(upstreamUser(id: id, runIndex: index).setting("email", .string("user\(id)-at-example")).setting("age", .int(12)), [
                ("email", "email_format", "\"user\(id)-at-example\" is not a valid email address"),
                ("age", "range", "12 is outside 18...65"),
            ])
        }

        let directory = "/data/runs/\(runID)"
        let raw = Self.describe("\(directory)/raw.jsonl", rawLines)
        events.append(.init(at: extractedAt, stage: "extract", event: "completed", detail: "extracted=\(rawLines.count)"))
        // Same instant as the previous event: the API orders ties by insertion.
        events.append(.init(at: extractedAt, stage: "transform", event: "started", detail: nil))
        var counts = SampleRun.Counts(extracted: rawLines.count)
        if failedPhase == .transform {
            let error = "writing users.jsonl.part: No space left on device"
            events.append(.init(at: transformedAt, stage: "transform", event: "failed", detail: error))
            return SampleRun(
                runID: runID, status: .failed, failedPhase: .transform, error: error,
                startedAt: startedAt, finishedAt: transformedAt, counts: counts, rawMaskedLines: [], userLines: [], dlqLines: [],
                stagedFiles: [raw], remoteFiles: [], events: events)
        }
        counts.valid = userLines.count
        counts.invalid = dlqLines.count
        counts.unknownDepartment = unknown
        let users = Self.describe("\(directory)/users.jsonl", userLines)
        let dead = Self.describe("\(directory)/dlq.jsonl", dlqLines)
        let masked = Self.describe("\(directory)/raw.masked.jsonl", maskedLines)
        events.append(.init(
            at: transformedAt, stage: "transform", event: "completed",
            detail: "invalid=\(dlqLines.count) unknown_department=\(unknown) valid=\(userLines.count)"))
        let saveStart = transformedAt.addingTimeInterval(0.75)
        events.append(.init(at: saveStart, stage: "save", event: "started", detail: nil))
        for (offset, (table, rows)) in [("raw_users", maskedLines.count), ("users", userLines.count), ("dlq_records", dlqLines.count)].enumerated() {
            events.append(.init(at: saveStart.addingTimeInterval(0.125 * Double(offset + 1)), stage: "save", event: "\(table) written", detail: "rows=\(rows)"))
        }
        let finishedAt = saveStart.addingTimeInterval(Double(index % 5) + 1.125)
        if failedPhase == .save {
            // The rows are in (each table is its own transaction); the upload failed.
            let error = "SFTP host key for 127.0.0.1:2222 does not match known_hosts"
            events.append(.init(at: finishedAt, stage: "save", event: "failed", detail: error))
            return SampleRun(
                runID: runID, status: .failed, failedPhase: .save, error: error,
                startedAt: startedAt, finishedAt: finishedAt, counts: counts, rawMaskedLines: maskedLines, userLines: userLines,
                dlqLines: dlqLines, stagedFiles: [raw, users, dead, masked], remoteFiles: [], events: events)
        }
        let remote = [("raw", masked), ("users", users), ("dlq", dead)].map { suffix, file in
            SampleRun.RemoteFile(name: "\(runID)_\(suffix).jsonl", rows: file.rows, bytes: file.bytes, sha256: file.sha256)
        }
        let manifest = ([
            "run_id": .string(runID.rawValue), "status": "completed", "started_at": .string(Timestamp.format(startedAt)),
            "files": .array(remote.map { ["name": .string($0.name), "rows": .int($0.rows), "bytes": .int($0.bytes), "sha256": .string($0.sha256)] }),
        ] as JSONValue).text
        let manifestFile = SampleRun.RemoteFile(
            name: "\(runID)_manifest.json", rows: 1, bytes: manifest.utf8.count + 1, sha256: SHA256Digest.hex(of: Array((manifest + "\n").utf8)))
        counts.loaded = userLines.count
        for file in remote + [manifestFile] {
            events.append(.init(
                at: finishedAt.addingTimeInterval(-0.25), stage: "save", event: "uploaded",
                detail: "upload/\(file.name) bytes=\(file.bytes) sha256=\(file.sha256)"))
        }
        events.append(.init(
            at: finishedAt, stage: "save", event: "completed",
            detail: "dlq=\(dlqLines.count) loaded=\(userLines.count) raw=\(maskedLines.count)"))
        return SampleRun(
            runID: runID, status: .completed, failedPhase: nil, error: nil, startedAt: startedAt, finishedAt: finishedAt,
            counts: counts, rawMaskedLines: maskedLines, userLines: userLines, dlqLines: dlqLines,
            stagedFiles: [raw, users, dead, masked], remoteFiles: remote + [manifestFile], events: events)
    }

    /// A DummyJSON `/users` element. Users change a little from run to run (age, weight): ids
    /// divisible by 4 never, by 3 every run, the rest every second run; so a later run updates
    /// some users and leaves the rest.
    func upstreamUser(id: Int, runIndex: Int) -> JSONValue {
        let first = Self.firstNames[(id - 1) % Self.firstNames.count]
        let last = Self.lastNames[(id * 7) % Self.lastNames.count]
        let changes = id % 4 == 0 ? 0 : id % 3 == 0 ? runIndex : runIndex / 2
        let department = id % 11 == 0 ? Self.unknownDepartment : Self.departments[id % Self.departments.count].name
        let age = 20 + (id * 3 + changes) % 40
        return [
            "id": .int(id), "firstName": .string(first), "lastName": .string(last), "maidenName": "",
            "age": .int(age), "gender": id % 2 == 0 ? "male" : "female",
            "email": .string("\(first.lowercased()).\(last.lowercased())\(id)@x.dummyjson.com"),
            "phone": .string("+81 965-431-\(String(format: "%04d", 3000 + id))"),
            "username": .string("\(first.lowercased())\(id)"), "password": .string("\(first.lowercased())pass\(id)!"),
            "birthDate": .string("\(2026 - age)-\(id % 12 + 1)-\(id % 28 + 1)"),
            "image": .string("https://dummyjson.com/icon/\(first.lowercased())\(id)/128"), "bloodGroup": "O-",
            "height": .decimal(150 + Double(id % 50) + 0.24), "weight": .decimal(50 + Double((id + changes) % 60) + 0.16),
            "eyeColor": "Green", "hair": ["color": "Brown", "type": "Curly"], "ip": .string("42.48.100.\(id % 255)"),
            "address": [
                "address": .string("\(600 + id) Main Street"), "city": "Phoenix", "state": "Mississippi", "stateCode": "MS",
                "postalCode": "29112", "coordinates": ["lat": .decimal(-77.16213), "lng": .decimal(-92.084824)], "country": "United States",
            ],
            "macAddress": "47:fa:41:18:ec:eb", "university": "University of Wisconsin--Madison",
            "bank": [
                "cardExpire": "03/26", "cardNumber": .string(String(format: "92897606554%05d", id)), "cardType": "Elo",
                "currency": "CNY", "iban": .string("YPUXISOBI7TTHPK2BR3H\(String(format: "%04d", id))"),
            ],
            "company": [
                "department": .string(department), "name": "Dooley, Kozey and Cronin", "title": "Sales Manager",
                "address": ["address": "263 Tenth Street", "city": "San Francisco", "state": "Wisconsin", "country": "United States"],
            ],
            "ein": .string("977-\(String(format: "%03d", id))"), "ssn": .string("900-590-\(String(format: "%03d", id))"),
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
            "crypto": ["coin": "Bitcoin", "wallet": .string("0xb9fc2fe63b2a6c003f1c324c3bfa5325916\(String(format: "%04d", id))"), "network": "Ethereum (ERC20)"],
            "role": id == 1 ? "admin" : "user",
        ]
    }

    /// The transformer's masking (docs/STAGING.md, "Secrets").
    static func mask(_ user: JSONValue) -> JSONValue {
        func keepLast4(_ value: JSONValue?) -> JSONValue {
            guard let text = value?.string else { return "****" }
            return .string(String(repeating: "*", count: max(0, text.count - 4)) + String(text.suffix(4)))
        }
        var masked = user.removing("password")
        masked = masked.setting("ssn", keepLast4(user["ssn"])).setting("ein", keepLast4(user["ein"]))
        if let bank = user["bank"] {
            masked = masked.setting("bank", bank.setting("cardNumber", keepLast4(bank["cardNumber"])).setting("iban", keepLast4(bank["iban"])))
        }
        if let crypto = user["crypto"] {
            masked = masked.setting("crypto", crypto.setting("wallet", keepLast4(crypto["wallet"])))
        }
        return masked
    }

    func enrich(_ masked: JSONValue, line: Int, runID: RunID, code: String, raw: String, extractedAt: Date, transformedAt: Date) -> JSONValue {
        let first = masked["firstName"]?.string ?? ""
        let last = masked["lastName"]?.string ?? ""
        let email = masked["email"]?.string ?? ""
        let age = masked["age"]?.int ?? 0
        let height = masked["height"]?.double ?? 0
        let weight = masked["weight"]?.double ?? 0
        let bmi = (weight / ((height / 100) * (height / 100)) * 10).rounded() / 10
        let category = bmi < 18.5 ? "underweight" : bmi < 25 ? "normal" : bmi < 30 ? "overweight" : "obese"
        let group = age < 25 ? "18-24" : age < 35 ? "25-34" : age < 45 ? "35-44" : age < 55 ? "45-54" : age < 65 ? "55-64" : "65+"
        let parts = (masked["birthDate"]?.string ?? "").split(separator: "-").compactMap { Int($0) }
        let birth = parts.count == 3 ? String(format: "%04d-%02d-%02d", parts[0], parts[1], parts[2]) : nil
        var members = masked.objectValue?.map { ($0.key, $0.value) } ?? []
        members += [
            ("full_name", .string("\(first) \(last)")),
            ("email_domain", .string(String(email.split(separator: "@").last ?? "").lowercased())),
            ("age_group", .string(group)), ("department_code", .string(code)),
            ("bmi", .decimal(bmi)), ("bmi_category", .string(category)), ("birth_date", birth.map { .string($0) } ?? .null),
            ("line", .int(line)), ("run_id", .string(runID.rawValue)),
            ("extracted_at", .string(Timestamp.format(extractedAt))), ("transformed_at", .string(Timestamp.format(transformedAt))),
            ("record_hash", .string(SHA256Digest.hex(of: Array(raw.utf8)))),
        ]
        return .object(members)
    }

    func dlq(line: Int, runID: RunID, raw: String, transformedAt: Date, payload: JSONValue, reasons: [(String, String, String)]) -> JSONValue {
        [
            "line": .int(line), "run_id": .string(runID.rawValue),
            "reasons": .array(reasons.map { ["field": .string($0.0), "rule": .string($0.1), "message": .string($0.2)] }),
            "payload": payload, "record_hash": .string(SHA256Digest.hex(of: Array(raw.utf8))),
            "transformed_at": .string(Timestamp.format(transformedAt)),
        ]
    }

    static func describe(_ path: String, _ lines: [String]) -> StagedFile {
        let bytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        return StagedFile(path: path, rows: lines.count, bytes: bytes.count, sha256: SHA256Digest.hex(of: bytes))
    }
}
