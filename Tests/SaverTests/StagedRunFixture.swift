import Crypto
import Foundation
import PipelineCore
import PipelineRedis
import PipelineRuntime
import SaverCore

/// Writes one run's staged chunks exactly as docs/STAGING.md specifies them (each chunk's
/// raw.jsonl, raw.masked.jsonl, users.jsonl, dlq.jsonl under `runs/<run>/chunks/<n>/`), and
/// registers the run in the ledger as the extractor and transformer would: the run started with
/// `chunkUsers`, every chunk sealed (extraction complete), the first `transformedChunks` chunks
/// recorded transformed, and the transform phase complete once all are.
///
/// Rows: line `i` (1-based, run-wide) is user `idOffset + i`. Every `invalidEvery`-th line is
/// rejected for its email; with `notJSONLine` that line of raw.jsonl is not JSON at all.
/// `variant` goes into every raw row, so two runs with different variants change every user's
/// record_hash. The whole run's files (what the server should end up with) are written to
/// `expected/<run>/` beside staging: ``rawFile``, ``maskedFile``, ``usersFile``, ``dlqFile``.
struct StagedRunFixture {
    let id: RunID
    let layout: StagingLayout
    var rawFile: StagedFile
    var maskedFile: StagedFile
    var usersFile: StagedFile
    var dlqFile: StagedFile
    /// Per chunk: its sealed record and its transform record.
    var chunks: [(sealed: SealedChunk, transformed: TransformedChunk)]
    var total: Int { maskedFile.rows }
    var valid: Int { usersFile.rows }
    var invalid: Int { dlqFile.rows }

    static let extractedAt = "2026-11-22T10:15:30.000Z"
    static let transformedAt = "2026-11-22T10:15:31.000Z"

    static func stage(
        _ id: RunID, layout: StagingLayout, ledger: RunLedger?, rows: Int, chunkUsers: Int? = nil, transformedChunks: Int? = nil,
        invalidEvery: Int = 10, idOffset: Int = 0, variant: String = "a", notJSONLine: Int? = nil, unknownDepartmentEvery: Int = 7
    ) async throws -> StagedRunFixture {
        let transformedAt = Self.transformedAt
        let extractedAt = Self.extractedAt
        var raws: [String] = [], maskeds: [String] = []
        var userLines: [(Int, String)] = [], dlqs: [(Int, String)] = []
        var unknowns = Set<Int>()
        for line in 1...rows {
            let userID = idOffset + line
            if line == notJSONLine {
                let text = "<html>upstream error \(line)</html>"
                raws.append(text)
                maskeds.append("\"\(text)\"")
                dlqs.append((line, #"{"line":\#(line),"run_id":"\#(id)","reasons":[{"field":"row","rule":"not_object","message":"the line is not a JSON object"}],"payload":"\#(text)","record_hash":"\#(sha(text))","transformed_at":"\#(transformedAt)"}"#))
                continue
            }
            let rejected = invalidEvery > 0 && line % invalidEvery == 0
            let email = rejected ? "user\(userID).example.com" : "user\(userID)@Example.com"
            let department = unknownDepartmentEvery > 0 && line % unknownDepartmentEvery == 0 ? "Alchemy" : "Engineering"
            let age = 18 + line % 47
            let card = String(format: "4111%012d", userID)
            let iban = String(format: "DE89%018d", userID)
            let wallet = String(format: "0x%040d", userID)
            let ssn = String(format: "%03d-%02d-%04d", line % 900, line % 90, userID % 10000)
            func body(secrets: (card: String, iban: String, wallet: String, ssn: String), password: Bool) -> String {
                var fields = [
                    #""id":\#(userID)"#, #""firstName":"First\#(line)""#, #""lastName":"Last\#(line)""#,
                    #""maidenName":"""#, #""age":\#(age)"#, #""gender":"female""#, #""email":"\#(email)""#,
                    #""phone":"+1 555-\#(String(format: "%04d", line % 10000))""#, #""username":"user\#(userID)""#,
                ]
                if password { fields.append(#""password":"pw\#(userID)-secret""#) }
                fields += [
                    #""birthDate":"1990-\#(line % 12 + 1)-\#(line % 28 + 1)""#, #""image":"https://dummyjson.com/icon/user\#(userID)/128""#,
                    #""bloodGroup":"O-""#, #""height":\#(150 + line % 40).5"#, #""weight":\#(50 + line % 50).25"#,
                    #""eyeColor":"Green""#, #""hair":{"color":"Brown","type":"Curly"}"#, #""ip":"10.0.\#(line % 250).\#(line % 200)""#,
                    #""address":{"address":"\#(line) Main Street","city":"Phoenix","state":"Arizona","stateCode":"AZ","postalCode":"29112","coordinates":{"lat":-77.16213,"lng":-92.084824},"country":"United States"}"#,
                    #""macAddress":"47:fa:41:18:ec:eb","university":"University of Wisconsin--Madison""#,
                    #""bank":{"cardExpire":"05/28","cardNumber":"\#(secrets.card)","cardType":"Visa","currency":"USD","iban":"\#(secrets.iban)"}"#,
                    #""company":{"department":"\#(department)","name":"Dooley, Kozey and Cronin","title":"Sales Manager","address":{"address":"263 Tenth Street","city":"San Francisco","state":"Wisconsin","stateCode":"WI","postalCode":"37657","coordinates":{"lat":71.814525,"lng":-161.150263},"country":"United States"}}"#,
                    #""ein":"977-175","ssn":"\#(secrets.ssn)","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)""#,
                    #""crypto":{"coin":"Bitcoin","wallet":"\#(secrets.wallet)","network":"Ethereum (ERC20)"}"#,
                    #""role":"admin","variant":"\#(variant)""#,
                ]
                return "{" + fields.joined(separator: ",") + "}"
            }
            let rawLine = body(secrets: (card, iban, wallet, ssn), password: true)
            let maskedLine = body(secrets: (mask(card), mask(iban), mask(wallet), mask(ssn)), password: false)
                .replacingOccurrences(of: #""ein":"977-175""#, with: #""ein":"***-175""#)
            raws.append(rawLine)
            maskeds.append(maskedLine)
            if rejected {
                dlqs.append((line, #"{"line":\#(line),"run_id":"\#(id)","reasons":[{"field":"email","rule":"email_format","message":"\"\#(email)\" is not a valid email address"}],"payload":\#(maskedLine),"record_hash":"\#(sha(rawLine))","transformed_at":"\#(transformedAt)"}"#))
            } else {
                let code = department == "Engineering" ? "ENG" : "UNKNOWN"
                if code == "UNKNOWN" { unknowns.insert(line) }
                let height = Double(150 + line % 40) + 0.5
                let weight = Double(50 + line % 50) + 0.25
                let bmi = (weight / (height / 100 * height / 100) * 10).rounded() / 10
                let category = bmi < 18.5 ? "underweight" : bmi < 25 ? "normal" : bmi < 30 ? "overweight" : "obese"
                let group = age < 25 ? "18-24" : age < 35 ? "25-34" : age < 45 ? "35-44" : age < 55 ? "45-54" : age < 65 ? "55-64" : "65+"
                let birth = String(format: "1990-%02d-%02d", line % 12 + 1, line % 28 + 1)
                let enriched = String(maskedLine.dropLast()) + #","full_name":"First\#(line) Last\#(line)","email_domain":"example.com","age_group":"\#(group)","department_code":"\#(code)","bmi":\#(bmi),"bmi_category":"\#(category)","birth_date":"\#(birth)","line":\#(line),"run_id":"\#(id)","extracted_at":"\#(extractedAt)","transformed_at":"\#(transformedAt)","record_hash":"\#(sha(rawLine))"}"#
                userLines.append((line, enriched))
            }
        }
        // The whole run, for comparisons.
        let expected = "\(layout.dataDirectory)/expected/\(id)"
        try FileManager.default.createDirectory(atPath: expected, withIntermediateDirectories: true)
        func write(_ path: String, _ lines: [String]) throws -> StagedFile {
            let writer = try StagedFileWriter(path: path)
            for line in lines { try writer.appendLine(line) }
            return try writer.commit()
        }
        var fixture = StagedRunFixture(
            id: id, layout: layout, rawFile: try write("\(expected)/raw.jsonl", raws), maskedFile: try write("\(expected)/raw.masked.jsonl", maskeds),
            usersFile: try write("\(expected)/users.jsonl", userLines.map(\.1)), dlqFile: try write("\(expected)/dlq.jsonl", dlqs.map(\.1)),
            chunks: [])

        // The chunks.
        let size = max(1, chunkUsers ?? rows)
        for (index, first) in stride(from: 1, through: rows, by: size).enumerated() {
            let lines = first...min(rows, first + size - 1)
            try FileManager.default.createDirectory(atPath: layout.chunkDirectory(id, index), withIntermediateDirectories: true)
            let raw = try write(layout.chunkFile(id, index, .raw), Array(raws[(lines.lowerBound - 1)...(lines.upperBound - 1)]))
            let masked = try write(layout.chunkFile(id, index, .rawMasked), Array(maskeds[(lines.lowerBound - 1)...(lines.upperBound - 1)]))
            let users = try write(layout.chunkFile(id, index, .users), userLines.filter { lines.contains($0.0) }.map(\.1))
            let dlq = try write(layout.chunkFile(id, index, .dlq), dlqs.filter { lines.contains($0.0) }.map(\.1))
            let sealed = SealedChunk(index: index, firstLine: lines.lowerBound, rows: raw.rows, bytes: raw.bytes, sha256: raw.sha256,
                                     sealedAt: extractedAt, repeats: [])
            let unknown = lines.filter { unknowns.contains($0) }.count
            let transformed = TransformedChunk(files: [users, dlq, masked], counts: [
                "valid": users.rows, "invalid": dlq.rows, "unknown_department": unknown, "rule:email.email_format": dlq.rows,
            ])
            fixture.chunks.append((sealed, transformed))
        }
        if let ledger {
            _ = try await ledger.startRun(id, chunkUsers: size)
            for chunk in fixture.chunks {
                try await ledger.sealChunk(chunk.sealed, run: id, isLast: chunk.sealed.index == fixture.chunks.count - 1, checkpoint: nil)
            }
            try await ledger.completePhase(.extract, run: id, files: fixture.chunks.map {
                StagedFile(path: layout.chunkFile(id, $0.sealed.index, .raw), rows: $0.sealed.rows, bytes: $0.sealed.bytes, sha256: $0.sealed.sha256)
            }, counts: ["extracted": rows])
            try await ledger.beginPhase(.transform, run: id)
            try await fixture.transform(chunks: 0..<min(fixture.chunks.count, transformedChunks ?? fixture.chunks.count), ledger: ledger)
        }
        return fixture
    }

    /// Records `chunks` as transformed, and completes the transform phase (with every chunk's
    /// files and the counts summed, as the phase worker does) once every chunk is.
    func transform(chunks indexes: Range<Int>, ledger: RunLedger) async throws {
        for index in indexes {
            try await ledger.recordTransformed(chunks[index].transformed, index: index, run: id)
        }
        guard let record = try await ledger.run(id), record.chunks.allDone(.transform) else { return }
        var counts: [String: Int] = [:]
        for chunk in chunks { counts.merge(chunk.transformed.counts, uniquingKeysWith: +) }
        try await ledger.completePhase(.transform, run: id, files: chunks.flatMap(\.transformed.files), counts: counts)
    }

    /// The remote file names' local counterparts: what the server should hold.
    var expectedRemote: [(name: String, local: StagedFile)] {
        let names = Saver.remoteNames(id)
        return [(names.raw, maskedFile), (names.users, usersFile), (names.dlq, dlqFile)]
    }

    static func sha(_ text: String) -> String { SHA256Digest.hex(of: Array(text.utf8)) }

    static func mask(_ text: String) -> String {
        String(repeating: "*", count: max(0, text.count - 4)) + text.suffix(4)
    }
}

extension RunID {
    /// A run id `secondsAgo` in the past, so fixtures sort in the order they were made.
    static func test(secondsAgo: Double = 0) -> RunID {
        RunID(startingAt: Date(timeIntervalSinceNow: -secondsAgo))
    }
}
