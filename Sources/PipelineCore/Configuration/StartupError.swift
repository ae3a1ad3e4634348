/// A stage that cannot start: reported as one line on stderr with exit code 1, without
/// ArgumentParser's usage text.
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ message: String) { description = message }
}
