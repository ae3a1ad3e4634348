import PipelineCore
import PipelineRedis

/// What a row is checked against (docs/TRANSFORMER.md).
public struct TransformRules: Sendable, Equatable {
    /// `AGE_MIN...AGE_MAX`.
    public var ageRange: ClosedRange<Int>
    public var departments: DepartmentTable
    /// `SECRET_FIELDS`: what every written row hides.
    public var masking: SecretMasking

    public init(ageRange: ClosedRange<Int> = 18...65, departments: DepartmentTable, masking: SecretMasking = SecretMasking()) {
        self.ageRange = ageRange
        self.departments = departments
        self.masking = masking
    }
}

/// Everything the transformer reads from the environment (see `.env.example`).
public struct TransformerSettings: Sendable {
    public var redisURL: RedisURL
    public var staging: StagingSettings
    public var rules: TransformRules
    /// `DEPARTMENTS_CSV`, or the path of the bundled table when it is unset.
    public var departmentsSource: String
    public var reconcileInterval: Duration
    /// How long a claim on a run outlives a transformer that died holding it (`CLAIM_TTL_SECONDS`,
    /// default 30): the wait before another replica takes the run over.
    public var claimTTL: Duration
    /// `INSTANCE_ID` (or a container's `HOSTNAME`): see ``PipelineCore/instanceID(from:)``.
    public var instanceID: String?
    /// The longest `raw.jsonl` line (one user) read (`MAX_USER_BYTES`, default 1 MiB).
    public var maxUserBytes: Int
    public var log: LogSettings

    public init(from env: SettingsReader) throws {
        redisURL = try RedisURL(from: env)
        staging = try StagingSettings(from: env)
        let ageMin = try env.int(.ageMin)
        let ageMax = try env.int(.ageMax)
        guard ageMin <= ageMax else {
            throw ConfigurationError(variable: "AGE_MAX", value: env.value(.ageMax) ?? String(ageMax),
                                     expected: "an integer at least AGE_MIN (\(ageMin))")
        }
        let departments: DepartmentTable
        if let path = env.value(.departmentsCSV) {
            departments = try DepartmentTable.load(path: path)
            departmentsSource = path
        } else {
            departments = try DepartmentTable.bundled()
            departmentsSource = DepartmentTable.bundledPath() ?? "bundled"
        }
        let secrets = try SecretFields(from: env)
        // The rules read these fields unmasked and quote or derive from them (a DLQ message
        // shows a bad email, `email_domain` keeps part of it): none of them may be a secret.
        let ruleFields = ["id", "firstName", "lastName", "email", "age", "birthDate", "height", "weight", "company", "department"]
        let clashes = ruleFields.filter { secrets.treatment(forKey: $0) != nil }
        guard clashes.isEmpty else {
            throw ConfigurationError(
                variable: "SECRET_FIELDS", value: env.value(.secretFields),
                expected: "no field the transformer validates or enriches from (\(clashes.joined(separator: ", ")))")
        }
        rules = TransformRules(ageRange: ageMin...ageMax, departments: departments, masking: SecretMasking(fields: secrets))
        reconcileInterval = try PipelineCore.reconcileInterval(from: env)
        claimTTL = try PipelineCore.claimTTL(from: env)
        instanceID = try PipelineCore.instanceID(from: env)
        maxUserBytes = try PipelineCore.maxUserBytes(from: env)
        log = try LogSettings(from: env)
    }

    /// Every setting the transformer reads.
    public static let settings: [Setting] = [.redisURL, .ageMin, .ageMax, .departmentsCSV, .secretFields, .reconcileInterval, .claimTTL,
                                             .instanceID, .maxUserBytes] + StagingSettings.settings + LogSettings.settings
}

extension Setting {
    public static let ageMin = Setting("AGE_MIN", .integer(0...200), default: "18", help: "The youngest valid age")
    public static let ageMax = Setting("AGE_MAX", .integer(0...200), default: "65", help: "The oldest valid age, at least AGE_MIN")
    public static let departmentsCSV = Setting(
        "DEPARTMENTS_CSV", .text, default: "",
        help: "Department name -> code lookup (CSV with header name,code); empty means the bundled table")
}
