/// A setting whose value cannot be used: the process stops at start-up with this message,
/// naming the variable, the value it was given and the form it accepts.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// The environment variable, as the user writes it (`PAGE_SIZE`).
    public var variable: String
    /// The value given, or `nil` for a secret that must not be echoed.
    public var value: String?
    /// The accepted form, in words (`an integer in 1...1000`).
    public var expected: String

    public init(variable: String, value: String?, expected: String) {
        self.variable = variable
        self.value = value
        self.expected = expected
    }

    public var description: String {
        if let value {
            return "invalid \(variable)=\"\(value)\": expected \(expected)"
        }
        return "invalid \(variable): expected \(expected)"
    }
}
