import Foundation

/// An HTTP response read off a ``RawTCPConnection`` with no HTTP client logic in the way, so a
/// response cut off mid-body, or a second one after it, is seen exactly as sent.
public struct RawHTTPResponse: Sendable {
    public var status: Int
    /// Lower-cased names.
    public var headers: [String: String]
    /// Every byte after the head, however many the head announced.
    public var body: [UInt8]
    /// The whole exchange as text.
    public var raw: String
    /// Whether the server closed the connection before the limit.
    public var closed: Bool
    public var elapsed: Duration

    public var contentLength: Int? { headers["content-length"].flatMap { Int($0) } }
    /// The body up to the head's Content-Length, as text.
    public var bodyText: String { String(decoding: body.prefix(contentLength ?? body.count), as: UTF8.self) }
}

extension RawTCPConnection {
    /// Sends `request` on a new connection to 127.0.0.1:`port` and reads until the server closes
    /// it (at most `limit`, a bound for a hang only: a close ends the wait at once).
    public static func exchange(port: Int, _ request: String, within limit: Duration = .seconds(30)) async throws -> RawHTTPResponse {
        let start = ContinuousClock.now
        let connection = try RawTCPConnection(port: port)
        await connection.send(request)
        let received = await connection.receive(within: limit)
        let bytes = received.bytes
        guard let headEnd = bytes.indices.first(where: { bytes[$0...].starts(with: [13, 10, 13, 10]) }) else {
            throw RawHTTPExchangeError("no response head in \(received.text.debugDescription)")
        }
        let lines = String(decoding: bytes[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw RawHTTPExchangeError("status line \(lines[0].debugDescription)") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return RawHTTPResponse(status: status, headers: headers, body: Array(bytes[(headEnd + 4)...]), raw: received.text,
                               closed: received.closed, elapsed: ContinuousClock.now - start)
    }
}

public struct RawHTTPExchangeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
