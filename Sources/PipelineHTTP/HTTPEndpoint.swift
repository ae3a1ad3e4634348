import Foundation
import PipelineCore

/// The host and port a request goes to: what error messages name so an operator can tell
/// which service failed without the rest of the URL (and never its credentials).
public struct HTTPEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https` (lowercased); `http` when the URL had no scheme, as curl assumes.
    public var scheme: String
    /// The host as written in the URL; an IPv6 literal without its brackets.
    public var host: String
    /// The explicit port, else the scheme's default (80, 443).
    public var port: Int

    public init(scheme: String, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// `host:port`, with an IPv6 literal in brackets (`[::1]:8080`).
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Parses the endpoint out of a URL string by hand: unlike `URLComponents` this never
    /// fails, so even a malformed URL gets a name (and its credentials removed) in messages.
    public init(url: String) {
        let parts = URLParts(url)
        let scheme = parts.scheme?.lowercased() ?? "http"
        var hostPort = Substring(parts.hostPort)
        var host: Substring
        if hostPort.hasPrefix("[") {
            // An IPv6 literal; an unclosed bracket (a malformed URL) takes the rest as the host.
            let close = hostPort.firstIndex(of: "]") ?? hostPort.endIndex
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            hostPort = close == hostPort.endIndex ? "" : hostPort[hostPort.index(after: close)...]
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            hostPort = hostPort[colon...]
        } else {
            host = hostPort
            hostPort = ""
        }
        let explicitPort = hostPort.hasPrefix(":") ? Int(hostPort.dropFirst()) : nil
        self.init(
            scheme: scheme,
            host: String(host),
            port: explicitPort ?? (scheme == "https" ? 443 : 80)
        )
    }
}

/// A URL that prints without its userinfo (`user:password@`) and its query values: what to log
/// or put in an error. Printing goes through PipelineCore's ``URLRedaction``, the one rule every
/// stage applies.
///
/// `RedactedURL("https://u:secret@api.example/users?key=abc")` prints
/// `https://***@api.example/users?key=***`, so the reader still sees that credentials were
/// given, but not what they are.
public struct RedactedURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL as given, credentials included: hand it to the transport, never to a log.
    public let unredacted: String

    public init(_ url: String) { self.unredacted = url }

    public var description: String { URLRedaction.redact(unredacted) }

    /// The strings that must not appear in text derived from this URL, longest first so that
    /// replacing them in order leaves no fragment behind: the whole userinfo, and its user and
    /// password parts when at least ``minimumScrubbedLength`` long, each also percent-decoded.
    ///
    /// The threshold is a trade-off: scrubbing a one-letter user name `u` everywhere would turn
    /// curl's "Couldn't connect" into "Co***ldn't connect", while a credential that short is
    /// no secret worth the garbling.
    var secrets: [String] {
        guard let userInfo = URLParts(unredacted).userInfo, !userInfo.isEmpty else { return [] }
        var found: Set<String> = [userInfo]
        for piece in userInfo.split(separator: ":", maxSplits: 1) where piece.count >= Self.minimumScrubbedLength {
            found.insert(String(piece))
        }
        for value in Array(found) {
            if let decoded = value.removingPercentEncodingLeniently, decoded != value, decoded.count >= Self.minimumScrubbedLength {
                found.insert(decoded)
            }
        }
        return found.sorted { $0.count > $1.count }
    }

    /// Parts of the userinfo shorter than this are not scrubbed on their own (see ``secrets``).
    static let minimumScrubbedLength = 4

    /// `text` with every secret of this URL replaced by `***`, and any URL in it redacted:
    /// curl's own error text may echo parts of the URL, and an error message must never carry
    /// a password or a query value.
    func scrub(_ text: String) -> String {
        URLRedaction.redactURLs(in: secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") })
    }
}

/// The pieces of `scheme://userinfo@host:port/rest`, split by hand and never failing.
struct URLParts {
    /// `scheme://`, or empty when the URL has none.
    var prefix: String
    var scheme: String?
    var userInfo: String?
    /// `host:port` (IPv6 literal in brackets).
    var hostPort: String
    /// Path, query and fragment, from the first `/`, `?` or `#` after the authority.
    var rest: String

    init(_ url: String) {
        var remainder = Substring(url)
        if let range = remainder.firstRange(of: "://") {
            scheme = String(remainder[..<range.lowerBound])
            prefix = String(remainder[..<range.upperBound])
            remainder = remainder[range.upperBound...]
        } else {
            scheme = nil
            prefix = ""
        }
        let authorityEnd = remainder.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? remainder.endIndex
        var authority = remainder[..<authorityEnd]
        rest = String(remainder[authorityEnd...])
        if let at = authority.lastIndex(of: "@") {
            userInfo = String(authority[..<at])
            authority = authority[authority.index(after: at)...]
        } else {
            userInfo = nil
        }
        hostPort = String(authority)
    }
}

extension String {
    /// Percent-decoding that keeps a malformed escape as is instead of failing.
    var removingPercentEncodingLeniently: String? {
        guard contains("%") else { return nil }
        var bytes: [UInt8] = []
        var utf8 = Array(self.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
