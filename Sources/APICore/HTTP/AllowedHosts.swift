import Foundation
import PipelineCore

/// The host names the API answers to (`API_ALLOWED_HOSTS`), against DNS rebinding.
///
/// A web page on another site can make the user's browser resolve its own domain to 127.0.0.1
/// and then read this API, which is full of personal data, as if it were that site. The browser
/// still sends the attacker's name in `Host`, so the API answers only requests whose `Host`
/// names it: by default `localhost`, `127.0.0.1`, `[::1]` and `api` (the compose service name).
///
/// Matching: the host part of `Host` (its port is ignored: `127.0.0.1:8000`, `[::1]:8000`),
/// compared case-insensitively and exactly otherwise. A request without `Host` (or with an empty
/// one) is answered: browsers always send it, so such a request cannot come from a rebinding
/// page. `*` allows any host, which turns the protection off.
public struct AllowedHosts: Sendable, Equatable, CustomStringConvertible {
    /// Lower-cased host names, IPv6 addresses in brackets; `nil` for `*` (any host).
    public let names: Set<String>?

    /// `localhost,127.0.0.1,[::1],api`.
    public static let defaultList = "localhost,127.0.0.1,[::1],api"
    public static let `default` = try! AllowedHosts(parsing: defaultList)
    /// Every host: no protection against DNS rebinding.
    public static let any = AllowedHosts(names: nil)

    private init(names: Set<String>?) {
        self.names = names
    }

    /// The given names (any case; IPv6 addresses with or without brackets).
    public init(_ names: [String]) throws {
        try self.init(parsing: names.joined(separator: ","))
    }

    /// A comma-separated list as `API_ALLOWED_HOSTS` takes it: host names or IP addresses
    /// without a port, or `*` alone. Throws ``ConfigurationError`` naming the variable.
    public init(parsing list: String, variable: String = "API_ALLOWED_HOSTS") throws {
        let entries = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let expected = "a comma-separated list of host names or IP addresses without a port (e.g. \(Self.defaultList)), or * for any host"
        guard !entries.isEmpty else { throw ConfigurationError(variable: variable, value: list, expected: expected) }
        if entries == ["*"] {
            self.init(names: nil)
            return
        }
        var names = Set<String>()
        for entry in entries {
            guard let name = Self.normalised(entry) else {
                throw ConfigurationError(variable: variable, value: list, expected: expected)
            }
            names.insert(name)
        }
        self.init(names: names)
    }

    /// Whether a request whose `Host` is `host` (a port allowed) may be answered.
    public func allows(host: String?) -> Bool {
        guard let names else { return true }
        guard let host, !host.isEmpty else { return true }
        return names.contains(Self.hostPart(of: host))
    }

    /// The host part of a `Host` value, lower-cased: `[::1]:8000` → `[::1]`, `LOCALHOST:80` → `localhost`.
    static func hostPart(of value: String) -> String {
        let lowered = value.lowercased()
        if lowered.hasPrefix("["), let close = lowered.firstIndex(of: "]") {
            return String(lowered[...close])
        }
        if let colon = lowered.firstIndex(of: ":") {
            return String(lowered[..<colon])
        }
        return lowered
    }

    /// A list entry as compared with `Host`, or `nil` when it is not a host name or address.
    private static func normalised(_ entry: String) -> String? {
        let lowered = entry.lowercased()
        let hex = Set("0123456789abcdef:.")
        if lowered.hasPrefix("[") || lowered.contains(":") {
            // An IPv6 address, bracketed as it appears in Host; `host:port` is refused here.
            var inner = Substring(lowered)
            if lowered.hasPrefix("[") {
                guard lowered.hasSuffix("]"), lowered.count > 2 else { return nil }
                inner = lowered.dropFirst().dropLast()
            }
            guard inner.contains(":"), inner.allSatisfy({ hex.contains($0) }), inner.filter({ $0 == ":" }).count >= 2 else { return nil }
            return "[\(inner)]"
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-._")
        guard lowered.allSatisfy({ allowed.contains($0) }), !lowered.hasPrefix("."), !lowered.hasPrefix("-") else { return nil }
        return lowered
    }

    public var description: String {
        guard let names else { return "*" }
        return names.sorted().joined(separator: ",")
    }
}
