import Foundation
import PipelineCore

/// Where a Redis server is and how to log in: `redis://[[user]:password@]host[:port][/db]`.
///
/// Parsed by hand rather than with `URLComponents` so that every malformed part gets an error
/// that names it (an operator reading a crash-looping container's log sees
/// `invalid REDIS_URL "redis://redis:0/0": port must be 1-65535`, not "invalid URL"), and so
/// that a password can never reach a log line: ``description`` and every ``RedisURLError``
/// show the credentials as `***@`.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    /// Host name or IP address; an IPv6 address is stored without its brackets.
    public var host: String
    public var port: Int
    /// The database number sent with `SELECT` (only when not 0).
    public var database: Int
    /// ACL user name for `AUTH user password`; `nil` means the legacy `AUTH password`.
    public var user: String?
    public var password: String?

    public static let defaultPort = 6379

    public init(host: String, port: Int = RedisURL.defaultPort, database: Int = 0, user: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
    }

    /// Parses `string`; `name` is what errors call it (the environment variable or option it came from).
    public init(_ string: String, name: String = "REDIS_URL") throws(RedisURLError) {
        func fail(_ reason: String) -> RedisURLError {
            RedisURLError(name: name, redactedInput: URLRedaction.redact(string), reason: reason)
        }
        guard let schemeEnd = string.range(of: "://") else {
            throw fail("expected redis://host:port/db")
        }
        let scheme = string[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "redis" else {
            throw fail(scheme == "rediss" ? "TLS (rediss://) is not supported" : "scheme must be redis://, not \(scheme)://")
        }
        var rest = string[schemeEnd.upperBound...]
        // Credentials end at the last "@" (host and database never contain one), so that a
        // password holding "@", "/", "?" or "#" is still read, and always masked, as a password.
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":") else {
                throw fail("credentials must be :password@ or user:password@")
            }
            let user = userInfo[..<colon]
            guard let decodedUser = user.removingPercentEncoding,
                  let decodedPassword = userInfo[userInfo.index(after: colon)...].removingPercentEncoding
            else {
                throw fail("credentials contain an invalid %-escape")
            }
            self.user = user.isEmpty ? nil : decodedUser
            self.password = decodedPassword.isEmpty ? nil : decodedPassword
            if self.user != nil && self.password == nil {
                throw fail("a user name needs a password")
            }
        } else {
            self.user = nil
            self.password = nil
        }
        if rest.contains("?") || rest.contains("#") {
            throw fail("query parameters and fragments are not supported")
        }
        // The host ends at the first "/"; what follows is the database number.
        var hostPort = rest
        var path = Substring("")
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            hostPort = rest[..<slash]
        }

        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("IPv6 host is missing its closing ]") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected text after the IPv6 host") }
                portText = after.dropFirst()
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw fail("host is missing") }

        if let portText {
            guard Self.isDigits(portText), let value = Int(portText), (1...65535).contains(value) else {
                throw fail("port must be 1-65535")
            }
            port = value
        } else {
            port = Self.defaultPort
        }

        if path.isEmpty {
            database = 0
        } else {
            guard Self.isDigits(path), let value = Int(path), value <= Int(Int32.max) else {
                throw fail("database must be a non-negative integer, not \"\(path)\"")
            }
            database = value
        }
    }

    /// `REDIS_URL`, default `redis://127.0.0.1:6379/0`; a bad value throws an error naming the
    /// variable (with any password redacted).
    public init(from env: SettingsReader) throws {
        try self.init(env.string(.redisURL), name: Setting.redisURL.name)
    }

    /// `host:port` as it appears in every error, IPv6 in brackets.
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The URL with its credentials (user and password) replaced by `***`: safe for logs.
    /// Redacted by PipelineCore's ``URLRedaction``, the rule every URL that is shown follows.
    public var description: String {
        let credentials = password != nil || user != nil ? "user:password@" : ""
        return URLRedaction.redact("redis://\(credentials)\(endpoint)/\(database)")
    }

    private static func isDigits(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }
}

/// A `redis://` URL that could not be parsed; its text shows the URL with the password masked.
public struct RedisURLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the URL is called where it came from, e.g. `REDIS_URL`.
    public var name: String
    /// The input with any password replaced by `***`.
    public var redactedInput: String
    /// Which part is wrong, e.g. `port must be 1-65535`.
    public var reason: String

    public var description: String { "invalid \(name) \"\(redactedInput)\": \(reason)" }
}
