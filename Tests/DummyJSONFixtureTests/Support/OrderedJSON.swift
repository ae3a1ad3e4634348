import PipelineJSON
import TestSupport

/// The fixture's tests read its JSON with the project's one parser (``JSONTape`` through
/// ``JSONValue``, with the tests' helpers from TestSupport): it keeps object keys in document
/// order, so tests can check the key order of DummyJSON users, and rejects anything that is not
/// JSON (for the malformed fault).
typealias JSON = JSONValue

extension JSONValue {
    typealias ParseError = JSONSyntaxError

    /// A number from its text (the value is implied by the text).
    static func number(_ text: String, _: Double) -> JSONValue { .number(text) }
}
