import Configuration
import Foundation

/// Reads declared settings (``Setting``) from the process environment, each checked against
/// its declaration.
///
/// Values come through swift-configuration's `EnvironmentVariablesProvider` (secrets marked as
/// such), so the stages read their settings the way the ecosystem does; the checks are ours,
/// because a bad value must stop the process with a message that names the variable and the
/// accepted form (``ConfigurationError``) rather than silently fall back to the default.
///
/// An empty value counts as unset: compose files pass `${VAR:-}` through as the empty string.
/// The default of a setting goes through the same check as a given value.
public struct SettingsReader: Sendable {
    private let reader: ConfigReader
    private let onRead: (@Sendable (Setting) -> Void)?

    /// Reads the given variables; the process environment by default. `onRead` is told of every
    /// setting read (the settings tests compare what each stage reads with what it declares).
    public init(_ variables: [String: String] = ProcessInfo.processInfo.environment, onRead: (@Sendable (Setting) -> Void)? = nil) {
        self.reader = ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: variables))
        self.onRead = onRead
    }

    /// The value given for `setting`, or `nil` when unset or empty.
    public func value(_ setting: Setting) -> String? {
        onRead?(setting)
        return variable(setting.name, isSecret: setting.isSecret)
    }

    /// A variable that is not a setting of the pipeline (`HOSTNAME`, which the container runtime
    /// sets), or `nil` when unset or empty.
    public func variable(_ name: String, isSecret: Bool = false) -> String? {
        guard let value = reader.string(forKey: Self.key(for: name), isSecret: isSecret), !value.isEmpty else {
            return nil
        }
        return value
    }

    public func string(_ setting: Setting) -> String {
        value(setting) ?? setting.defaultValue
    }

    public func int(_ setting: Setting) throws -> Int {
        guard case .integer(let range) = setting.kind else { preconditionFailure("\(setting) is not declared an integer") }
        return try parse(setting) { Int($0).flatMap { range.contains($0) ? $0 : nil } }
    }

    public func double(_ setting: Setting) throws -> Double {
        guard case .number(let range) = setting.kind else { preconditionFailure("\(setting) is not declared a number") }
        return try parse(setting) { Double($0).flatMap { $0.isFinite && range.contains($0) ? $0 : nil } }
    }

    public func seconds(_ setting: Setting) throws -> Duration {
        guard case .seconds(let range) = setting.kind else { preconditionFailure("\(setting) is not declared in seconds") }
        return .seconds(try parse(setting) { Double($0).flatMap { $0.isFinite && range.contains($0) ? $0 : nil } })
    }

    public func port(_ setting: Setting) throws -> Int {
        guard case .port = setting.kind else { preconditionFailure("\(setting) is not declared a port") }
        return try parse(setting) { Int($0).flatMap { (1...65535).contains($0) ? $0 : nil } }
    }

    /// One of the declared words, compared case-insensitively.
    public func choice<T: RawRepresentable & CaseIterable>(_ setting: Setting, as type: T.Type = T.self) throws -> T
    where T.RawValue == String {
        guard case .choice = setting.kind else { preconditionFailure("\(setting) is not declared a choice") }
        let text = value(setting) ?? setting.defaultValue
        guard let value = T.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            throw ConfigurationError(variable: setting.name, value: text, expected: setting.kind.form ?? "")
        }
        return value
    }

    /// It may hold credentials (userinfo, a key in the query), so an error shows it redacted
    /// (``URLRedaction``).
    public func httpURL(_ setting: Setting) throws -> URL {
        guard case .httpURL = setting.kind else { preconditionFailure("\(setting) is not declared an http URL") }
        let text = value(setting) ?? setting.defaultValue
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else {
            throw ConfigurationError(variable: setting.name, value: URLRedaction.redact(text), expected: setting.kind.form ?? "")
        }
        return url
    }

    /// The value (or the default), trimmed of spaces, through `convert`; `nil` from it is an
    /// error naming the variable and the declared form.
    private func parse<T>(_ setting: Setting, _ convert: (String) -> T?) throws -> T {
        let text = value(setting) ?? setting.defaultValue
        guard let value = convert(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(variable: setting.name, value: text, expected: setting.kind.form ?? "")
        }
        return value
    }

    /// swift-configuration's environment provider turns the dotted key `page.size` into
    /// `PAGE_SIZE`; the stages speak in variable names, so map them back.
    private static func key(for variable: String) -> ConfigKey {
        ConfigKey(variable.lowercased().split(separator: "_").map(String.init))
    }
}
