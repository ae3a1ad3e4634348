/// One environment variable a stage reads: its name, the form its value takes, its default,
/// whether it is a secret, and one line of help. Declared once, beside the settings type that
/// reads it; ``SettingsReader`` reads and checks values by declaration, and `.env.example` is
/// made from the declarations (Tests/SettingsTests).
public struct Setting: Sendable, Hashable, CustomStringConvertible {
    /// The form of a value, checked when it is read.
    public enum Kind: Sendable, Hashable {
        /// Any text: a path, a host name, or a list its reader parses itself.
        case text
        case integer(ClosedRange<Int>)
        case number(ClosedRange<Double>)
        /// A duration in (possibly fractional) seconds, the unit of every `*_SECONDS` variable.
        case seconds(ClosedRange<Double>)
        /// A TCP port, 1...65535.
        case port
        /// An absolute `http` or `https` URL with a host.
        case httpURL
        /// A `redis://` URL (parsed by PipelineRedis's `RedisURL`).
        case redisURL
        /// One of these words, compared case-insensitively.
        case choice([String])

        /// The accepted form, in words, as error messages and `.env.example` give it; `nil` for text.
        public var form: String? {
            switch self {
            case .text: nil
            case .integer(let range): "an integer in \(range.lowerBound)...\(range.upperBound)"
            case .number(let range), .seconds(let range): "a number in \(format(range.lowerBound))...\(format(range.upperBound))"
            case .port: "a TCP port in 1...65535"
            case .httpURL: "an http:// or https:// URL with a host"
            case .redisURL: "redis://[:password@]host:port/db"
            case .choice(let words): "one of \(words.joined(separator: ", "))"
            }
        }

        private func format(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }
    }

    /// The environment variable (`PAGE_SIZE`).
    public let name: String
    public let kind: Kind
    /// The value when the variable is unset or empty, as it would be written.
    public let defaultValue: String
    /// Never logged or shown in full: passwords, URLs that may carry credentials.
    public let isSecret: Bool
    /// What it does, in one line (wrapped in `.env.example`).
    public let help: String
    /// What `.env.example` shows: the default, unless the launchers supply their own (an empty
    /// `DUMMYJSON_URL` makes them start the bundled fixture).
    public let exampleValue: String

    public init(_ name: String, _ kind: Kind, default defaultValue: String, secret: Bool = false, example: String? = nil, help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.isSecret = secret
        self.help = help
        self.exampleValue = example ?? defaultValue
    }

    public var description: String { name }
}
