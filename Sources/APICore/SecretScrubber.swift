/// The API's last line of defence for secrets in the payloads it returns.
///
/// The transformer drops `password` and masks the other secrets before anything reaches the
/// database (docs/STAGING.md, "Secrets"), so on a database the pipeline wrote this changes
/// nothing. It still runs on every payload the API returns, so a row written by a buggy or older
/// stage cannot leak a secret through the API:
///
/// - any member whose name contains `password` (any case, any depth) is removed;
/// - `ssn`, `ein`, `bank.cardNumber`, `bank.iban` and `crypto.wallet` that are not already masked
///   are masked the transformer's way: every character but the last 4 becomes `*`, and a value
///   that is not a string becomes `"****"`.
public enum SecretScrubber {
    /// Secrets masked in place, as paths of member names from the payload's root.
    public static let maskedPaths: [[String]] = [["ssn"], ["ein"], ["bank", "cardNumber"], ["bank", "iban"], ["crypto", "wallet"]]

    public static func scrub(_ value: JSONValue) -> JSONValue {
        var value = removePasswords(value)
        for path in maskedPaths { value = mask(value, at: path[...]) }
        return value
    }

    /// `value` with only its last 4 characters visible; unchanged when it already reads that way.
    public static func masked(_ text: String) -> String {
        let characters = Array(text)
        let hidden = max(0, characters.count - 4)
        if characters.prefix(hidden).allSatisfy({ $0 == "*" }) { return text }
        return String(repeating: "*", count: hidden) + String(characters.suffix(4))
    }

    private static func removePasswords(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(members.compactMap { member in
                member.key.lowercased().contains("password") ? nil : JSONMember(member.key, removePasswords(member.value))
            })
        case .array(let items):
            return .array(items.map(removePasswords))
        default:
            return value
        }
    }

    private static func mask(_ value: JSONValue, at path: ArraySlice<String>) -> JSONValue {
        guard let key = path.first, case .object(var members) = value,
              let index = members.firstIndex(where: { $0.key == key })
        else { return value }
        if path.count == 1 {
            if case .string(let text) = members[index].value {
                members[index].value = .string(masked(text))
            } else {
                members[index].value = .string("****")
            }
        } else {
            members[index].value = mask(members[index].value, at: path.dropFirst())
        }
        return .object(members)
    }
}
