import Crypto
import Foundation
import PipelineCore
import PipelineRedis
import PipelineRuntime

/// Writes one run's staged files exactly as docs/STAGING.md specifies the transformer's output
/// (raw.jsonl, raw.masked.jsonl, users.jsonl, dlq.jsonl), and registers the run in the ledger as
/// `transformed` with the files' rows, sizes and SHA-256, as the extractor and transformer would.
///
/// Rows: line `i` (1-based) is user `idOffset + i`. Every `invalidEvery`-th line is rejected
/// for its email; with `notJSONLine` that line of raw.jsonl is not JSON at all. `variant` goes
/// into every raw row, so two runs with different variants change every user's record_hash.
struct StagedRunFixture {
    let id: RunID
    let layout: StagingLayout
    var rawFile: StagedFile
    var maskedFile: StagedFile
    var usersFile: StagedFile
    var dlqFile: StagedFile
    var total: Int { maskedFile.rows }
    var valid: Int { usersFile.rows }
    var invalid: Int { dlqFile.rows }

    static func stage(
        _ id: RunID, layout: StagingLayout, ledger: RunLedger?, rows: Int, invalidEvery: Int = 10,
        idOffset: Int = 0, variant: String = "a", notJSONLine: Int? = nil, unknownDepartmentEvery: Int = 7
    ) async throws -> StagedRunFixture {
        let extractedAt = "2026-11-22T10:15:30.000Z"
        let transformedAt = "2026-11-22T10:15:31.000Z"
        let raw = try StagedFileWriter(path: layout.rawFile(id))
        let masked = try StagedFileWriter(path: layout.rawMaskedFile(id))
        let users = try StagedFileWriter(path: layout.usersFile(id))
        let dlq = try StagedFileWriter(path: layout.dlqFile(id))
        var invalid = 0
        var unknown = 0
        for line in 1...rows {
            let userID = idOffset + line
            if line == notJSONLine {
                let text = "<html>upstream error \(line)</html>"
                try raw.appendLine(text)
                try masked.appendLine("\"\(text)\"")
                try dlq.appendLine(#"{"line":\#(line),"run_id":"\#(id)","reasons":[{"field":"row","rule":"not_object","message":"the line is not a JSON object"}],"payload":"\#(text)","record_hash":"\#(sha(text))","transformed_at":"\#(transformedAt)"}"#)
                invalid += 1
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
            try raw.appendLine(rawLine)
            try masked.appendLine(maskedLine)
            if rejected {
                invalid += 1
                try dlq.appendLine(#"{"line":\#(line),"run_id":"\#(id)","reasons":[{"field":"email","rule":"email_format","message":"\"\#(email)\" is not a valid email address"}],"payload":\#(maskedLine),"record_hash":"\#(sha(rawLine))","transformed_at":"\#(transformedAt)"}"#)
            } else {
                let code = department == "Engineering" ? "ENG" : "UNKNOWN"
                if code == "UNKNOWN" { unknown += 1 }
                let height = Double(150 + line % 40) + 0.5
                let weight = Double(50 + line % 50) + 0.25
                let bmi = (weight / (height / 100 * height / 100) * 10).rounded() / 10
                let category = bmi < 18.5 ? "underweight" : bmi < 25 ? "normal" : bmi < 30 ? "overweight" : "obese"
                let group = age < 25 ? "18-24" : age < 35 ? "25-34" : age < 45 ? "35-44" : age < 55 ? "45-54" : age < 65 ? "55-64" : "65+"
                let birth = String(format: "1990-%02d-%02d", line % 12 + 1, line % 28 + 1)
                let enriched = String(maskedLine.dropLast()) + #","full_name":"First\#(line) Last\#(line)","email_domain":"example.com","age_group":"\#(group)","department_code":"\#(code)","bmi":\#(bmi),"bmi_category":"\#(category)","birth_date":"\#(birth)","line":\#(line),"run_id":"\#(id)","extracted_at":"\#(extractedAt)","transformed_at":"\#(transformedAt)","record_hash":"\#(sha(rawLine))"}"#
                try users.appendLine(enriched)
            }
        }
        let fixture = StagedRunFixture(
            id: id, layout: layout, rawFile: try raw.commit(), maskedFile: try masked.commit(),
            usersFile: try users.commit(), dlqFile: try dlq.commit())
        if let ledger {
            _ = try await ledger.startRun(id)
            try await ledger.completePhase(.extract, run: id, files: [fixture.rawFile], counts: ["extracted": rows])
            try await ledger.beginPhase(.transform, run: id)
            try await ledger.completePhase(
                .transform, run: id, files: [fixture.usersFile, fixture.dlqFile, fixture.maskedFile],
                counts: ["valid": fixture.valid, "invalid": invalid, "unknown_department": unknown, "rule:email.email_format": invalid])
        }
        return fixture
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
