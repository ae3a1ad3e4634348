import Foundation
import PipelineCore
import Testing
import TestSupport
import TransformerCore

/// Configuration from the environment: defaults, and a start-up error naming the variable for a bad value.
@Suite struct SettingsTests {
    @Test func defaults() throws {
        let settings = try TransformerSettings(from: SettingsReader([:]))
        #expect(settings.rules.ageRange == 18...65)
        #expect(settings.reconcileInterval == .seconds(30))
        #expect(settings.claimTTL == .seconds(30))
        #expect(settings.staging.dataDirectory == "./data")
        #expect(settings.redisURL.port == 6379)
        #expect(settings.log == LogSettings())
        #expect(settings.departmentsSource.hasSuffix("etl-pipeline_TransformerCore.resources/departments.csv"))
    }

    @Test func theBundledTableCoversTheTwelveDepartments() throws {
        let table = try DepartmentTable.bundled()
        #expect(table.entries.map(\.name) == [
            "Marketing", "Legal", "Research and Development", "Support", "Engineering", "Human Resources", "Services",
            "Accounting", "Product Management", "Sales", "Training", "Business Development",
        ])
        #expect(table.entries.map(\.code) == ["MKT", "LEG", "RND", "SUP", "ENG", "HR", "SRV", "ACC", "PM", "SAL", "TRN", "BD"])
        #expect(table.code(for: "Research and Development") == "RND")
        #expect(table.code(for: " human resources ") == "HR")
        #expect(table.code(for: "Astrology") == nil)
        // The file in the repository is the one shipped.
        let source = try String(contentsOfFile: repositoryRoot + "/Sources/TransformerCore/Resources/departments.csv", encoding: .utf8)
        #expect(try DepartmentTable(csv: source) == table)
    }

    @Test func values() throws {
        let directory = TemporaryDirectory("settings")
        let csv = directory.file("departments.csv")
        try "name,code\r\n\"Sales, EMEA\",SEM\r\nEngineering,ENG\r\n\r\n\"Quote \"\"Q\"\"\",QQ\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let settings = try TransformerSettings(from: SettingsReader([
            "AGE_MIN": "21", "AGE_MAX": "21", "DEPARTMENTS_CSV": csv, "RECONCILE_INTERVAL_SECONDS": "0.5",
            "CLAIM_TTL_SECONDS": "2", "DATA_DIR": "/tmp/x", "REDIS_URL": "redis://127.0.0.1:16379/3", "LOG_FORMAT": "json",
        ]))
        #expect(settings.rules.ageRange == 21...21)
        #expect(settings.rules.departments.entries == [.init(name: "Sales, EMEA", code: "SEM"), .init(name: "Engineering", code: "ENG"),
                                                       .init(name: "Quote \"Q\"", code: "QQ")])
        #expect(settings.departmentsSource == csv)
        #expect(settings.reconcileInterval == .milliseconds(500))
        #expect(settings.claimTTL == .seconds(2))
        #expect(settings.staging.dataDirectory == "/tmp/x")
        #expect(settings.redisURL.database == 3)
        #expect(settings.log.format == .json)
    }

    func error(_ env: [String: String]) -> String? {
        do {
            _ = try TransformerSettings(from: SettingsReader(env))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aBadValueNamesItsVariable() throws {
        #expect(error(["AGE_MIN": "young"])?.hasPrefix("invalid AGE_MIN=\"young\"") == true)
        #expect(error(["AGE_MAX": "-1"])?.hasPrefix("invalid AGE_MAX=\"-1\"") == true)
        #expect(error(["AGE_MIN": "40", "AGE_MAX": "30"]) == "invalid AGE_MAX=\"30\": expected an integer at least AGE_MIN (40)")
        #expect(error(["AGE_MIN": "70"]) == "invalid AGE_MAX=\"65\": expected an integer at least AGE_MIN (70)")
        #expect(error(["RECONCILE_INTERVAL_SECONDS": "soon"])?.hasPrefix("invalid RECONCILE_INTERVAL_SECONDS") == true)
        #expect(error(["CLAIM_TTL_SECONDS": "0"])?.hasPrefix("invalid CLAIM_TTL_SECONDS") == true)
        #expect(error(["LOG_LEVEL": "loud"])?.hasPrefix("invalid LOG_LEVEL") == true)
        #expect(error(["REDIS_URL": "http://x"])?.contains("REDIS_URL") == true)
        #expect(error(["SECRET_FIELDS": "ssn:hide"])?.hasPrefix("invalid SECRET_FIELDS") == true)
    }

    /// A field the rules read unmasked, quote in a DLQ message or enrich from cannot be a secret:
    /// the list would promise what the transformer cannot keep.
    @Test func secretFieldsCannotNameAFieldTheRulesRead() throws {
        #expect(error(["SECRET_FIELDS": "ssn,email"]) == "invalid SECRET_FIELDS=\"ssn,email\": expected no field the transformer validates or enriches from (email)")
        #expect(error(["SECRET_FIELDS": "*name"])?.contains("(firstName, lastName)") == true)
        #expect(error(["SECRET_FIELDS": "ssn,token:drop"]) == nil)
    }

    @Test(arguments: [
        ("missing", nil, "a readable CSV file"),
        ("empty", "", "the file is empty"),
        ("wrong header", "department,code\nSales,SAL\n", "the header is \"department,code\"; expected name,code"),
        ("three fields", "name,code\nSales,SAL,x\n", "line 2: 3 fields; expected 2"),
        ("one field", "name,code\nSales\n", "line 2: 1 field; expected 2"),
        ("empty code", "name,code\nSales,\n", "line 2: the code of \"Sales\" is empty"),
        ("empty name", "name,code\n,SAL\n", "line 2: the name is empty"),
        ("duplicate", "name,code\nSales,SAL\nsales,SL\n", "line 3: \"sales\" is already listed on line 2"),
        ("no rows", "name,code\n", "lists no departments"),
        ("open quote", "name,code\n\"Sales,SAL\n", "a quoted field is not closed"),
    ] as [(String, String?, String)])
    func aBadDepartmentsFileIsAStartUpErrorNamingTheVariable(_ name: String, _ content: String?, _ reason: String) throws {
        let directory = TemporaryDirectory("settings")
        let path = directory.file("departments.csv")
        if let content { try content.write(toFile: path, atomically: true, encoding: .utf8) }
        let message = try #require(error(["DEPARTMENTS_CSV": path]))
        #expect(message.hasPrefix("invalid DEPARTMENTS_CSV=\"\(path)\": expected"), "\(message)")
        #expect(message.contains(reason), "\(message)")
    }
}
