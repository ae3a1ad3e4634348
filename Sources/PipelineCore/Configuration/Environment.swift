import Configuration
import Foundation

/// Typed, validated access to the environment variables that configure a stage.
///
/// Values come through swift-configuration's `EnvironmentVariablesProvider`, so the stages read
/// their settings the way the ecosystem does; parsing and range checks are ours, because a bad
/// value must stop the process with a message that names the variable and the accepted form
/// (``ConfigurationError``) rather than silently fall back to the default.
///
/// An empty value counts as unset: compose files pass `${VAR:-}` through as the empty string.
public struct Environment: Sendable {
    private let reader: ConfigReader

    /// Reads the given variables; the process environment by default.
    public init(_ variables: [String: String] = ProcessInfo.processInfo.environment) {
        self.reader = ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: variables))
    }

    /// The raw value of `name`, or `nil` when unset or empty.
    public func raw(_ name: String, isSecret: Bool = false) -> String? {
        guard let value = reader.string(forKey: Self.key(for: name), isSecret: isSecret), !value.isEmpty else {
            return nil
        }
        return value
    }

    public func string(_ name: String, default defaultValue: String, isSecret: Bool = false) -> String {
        raw(name, isSecret: isSecret) ?? defaultValue
    }

    public func int(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigurationError(variable: name, value: text, expected: "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func double(_ name: String, default defaultValue: Double, in range: ClosedRange<Double>) throws -> Double {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite, range.contains(value) else {
            throw ConfigurationError(variable: name, value: text, expected: "a number in \(Self.format(range.lowerBound))...\(Self.format(range.upperBound))")
        }
        return value
    }

    /// A duration given in (possibly fractional) seconds, the unit every `*_SECONDS` variable uses.
    public func seconds(_ name: String, default defaultValue: Double, in range: ClosedRange<Double>) throws -> Duration {
        .seconds(try double(name, default: defaultValue, in: range))
    }

    /// One of a fixed set of words, compared case-insensitively.
    public func choice<T: RawRepresentable & CaseIterable>(_ name: String, default defaultValue: T) throws -> T
    where T.RawValue == String {
        guard let text = raw(name) else { return defaultValue }
        guard let value = T.allCases.first(where: { $0.rawValue.lowercased() == text.lowercased() }) else {
            let words = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigurationError(variable: name, value: text, expected: "one of \(words)")
        }
        return value
    }

    /// An absolute `http` or `https` URL with a host. It may hold credentials (userinfo, a key
    /// in the query), so an error shows it redacted (``URLRedaction``).
    public func httpURL(_ name: String, default defaultValue: String) throws -> URL {
        let text = raw(name, isSecret: true) ?? defaultValue
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else {
            throw ConfigurationError(variable: name, value: URLRedaction.redact(text), expected: "an http:// or https:// URL with a host")
        }
        return url
    }

    /// A TCP port, 1...65535.
    public func port(_ name: String, default defaultValue: Int) throws -> Int {
        guard let text = raw(name) else { return defaultValue }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), (1...65535).contains(value) else {
            throw ConfigurationError(variable: name, value: text, expected: "a TCP port in 1...65535")
        }
        return value
    }

    /// swift-configuration's environment provider turns the dotted key `page.size` into
    /// `PAGE_SIZE`; the stages speak in variable names, so map them back.
    private static func key(for variable: String) -> ConfigKey {
        ConfigKey(variable.lowercased().split(separator: "_").map(String.init))
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
