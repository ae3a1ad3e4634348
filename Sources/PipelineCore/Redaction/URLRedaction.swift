/// URLs as logs, error messages, the run ledger and `etl_runs` show them: without credentials and
/// without query values. The one place that decides what of a URL may be shown (docs/STAGING.md,
/// "Redacted URLs"); every stage goes through it.
///
/// - The userinfo (`user:password@`) becomes `***@`: the reader sees that credentials were
///   given, not what they are. It ends at the **last** `@` of the URL, as `RedisURL` reads it,
///   so a password holding an unescaped `/`, `?`, `#` or `@` is still masked whole (a path or
///   query holding an `@` is masked with it: over-redacting is the safe side).
/// - Every query value becomes `***`, its key kept: `?limit=100&token=abc` →
///   `?limit=***&token=***`. An item without `=` (which may be a bare token) becomes `***`;
///   empty items and empty values stay as they were (they hide nothing).
/// - A fragment becomes `#***`.
/// - Scheme, host, port and path are kept, so an operator can still tell which service it is.
///
/// Redacting is idempotent: a redacted URL redacts to itself.
public enum URLRedaction {
    /// What replaces a credential or a query value.
    public static let marker = "***"

    /// `url` without its userinfo and query values (see ``URLRedaction``). Never fails: a
    /// malformed URL is redacted by the same rules, so even an error about it shows no secret.
    public static func redact(_ url: String) -> String {
        var rest = Substring(url)
        var result = ""
        if let separator = rest.firstRange(of: "://"), isScheme(rest[..<separator.lowerBound]) {
            result += rest[..<separator.upperBound]
            rest = rest[separator.upperBound...]
        }
        if let at = rest.lastIndex(of: "@") {
            result += marker + "@"
            rest = rest[rest.index(after: at)...]
        }
        var fragment: Substring?
        if let hash = rest.firstIndex(of: "#") {
            fragment = rest[rest.index(after: hash)...]
            rest = rest[..<hash]
        }
        if let question = rest.firstIndex(of: "?") {
            result += rest[...question]
            let items = rest[rest.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false)
            result += items.map(redactQueryItem).joined(separator: "&")
        } else {
            result += rest
        }
        if let fragment {
            result += fragment.isEmpty ? "#" : "#" + marker
        }
        return result
    }

    /// `text` with every `scheme://…` URL in it redacted (see ``redact(_:)``); the rest is kept
    /// as it is. For free text that may quote a URL: an error stored in the ledger or in
    /// `etl_runs`. A URL ends at whitespace, a quote or `<>`; trailing `.,;:)` are left outside.
    public static func redactURLs(in text: String) -> String {
        guard text.contains("://") else { return text }
        var result = ""
        var rest = Substring(text)
        while let separator = rest.firstRange(of: "://") {
            // Walk back over the scheme's characters.
            var start = separator.lowerBound
            while start > rest.startIndex, isSchemeCharacter(rest[rest.index(before: start)]) { start = rest.index(before: start) }
            while start < separator.lowerBound, !rest[start].isLetter { start = rest.index(after: start) }
            guard start < separator.lowerBound else {
                result += rest[..<separator.upperBound]
                rest = rest[separator.upperBound...]
                continue
            }
            var end = rest[separator.upperBound...].firstIndex(where: isURLEnd) ?? rest.endIndex
            while end > separator.upperBound, ".,;:)".contains(rest[rest.index(before: end)]) { end = rest.index(before: end) }
            result += rest[..<start]
            result += redact(String(rest[start..<end]))
            rest = rest[end...]
        }
        return result + rest
    }

    private static func redactQueryItem(_ item: Substring) -> String {
        guard !item.isEmpty else { return "" }
        guard let equals = item.firstIndex(of: "=") else { return marker }
        let value = item[item.index(after: equals)...]
        return value.isEmpty ? String(item) : item[...equals] + marker
    }

    private static func isScheme(_ text: Substring) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter else { return false }
        return text.allSatisfy(isSchemeCharacter)
    }

    private static func isSchemeCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "+" || c == "-" || c == ".")
    }

    private static func isURLEnd(_ c: Character) -> Bool {
        c.isWhitespace || c == "\"" || c == "'" || c == "<" || c == ">" || c == "`"
    }
}
