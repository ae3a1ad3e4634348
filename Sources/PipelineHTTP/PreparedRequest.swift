/// A GET request checked and made ready for curl before it leaves the caller's task.
///
/// Checking here, rather than on the worker thread, means a bad header fails at once with an
/// ``HTTPClientError/invalidRequest(reason:)`` and never reaches the network.
struct PreparedRequest: Sendable {
    let url: RedactedURL
    let endpoint: HTTPEndpoint
    /// `Name: value` lines for `CURLOPT_HTTPHEADER`, sorted by name so requests are reproducible.
    let headerLines: [String]

    init(url: String, headers: [String: String]) throws(HTTPClientError) {
        self.url = RedactedURL(url)
        self.endpoint = HTTPEndpoint(url: url)
        var lines: [String] = []
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            // A name is an RFC 9110 token; CR/LF in a value would smuggle in another header.
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else {
                throw .invalidRequest(reason: "header name \"\(name)\" is not a valid HTTP field name")
            }
            guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) else {
                throw .invalidRequest(reason: "the value of header \(name) contains CR, LF or NUL")
            }
            // curl drops a header given as `Name:` with nothing after it; `Name;` sends it empty.
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        self.headerLines = lines
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
