import CCurl
import Foundation
import PipelineCore

/// What one transfer has received so far; curl's C callbacks write into it.
///
/// It lives only on the worker thread running `curl_easy_perform` (the callbacks run on that
/// thread, inside the call), so it needs no lock. It reaches the callbacks as an unretained
/// `Unmanaged` pointer; ``CurlEasyHandle`` keeps it alive for the duration of the transfer.
final class TransferState {
    let maxResponseSize: Int
    let cancellation: CancellationFlag
    private(set) var body: [UInt8] = []
    /// Fields of the latest response; a new status line (redirect, `100 Continue`) starts over.
    private(set) var headers = HTTPHeaders()
    /// Set when the body outgrew ``maxResponseSize``, to tell that `CURLE_WRITE_ERROR` apart.
    private(set) var exceededLimit = false

    init(maxResponseSize: Int, cancellation: CancellationFlag) {
        self.maxResponseSize = maxResponseSize
        self.cancellation = cancellation
    }

    /// `Content-Length` of the latest response when it is a single valid number and the body
    /// was not chunked (a `Transfer-Encoding` overrides it, RFC 9112 §6.3).
    var announcedLength: Int? {
        guard !headers.contains("Transfer-Encoding") else { return nil }
        let values = Set(headers.values(for: "Content-Length").map { $0.trimmingASCIISpaces })
        guard values.count == 1, let value = values.first, let length = Int(value), length >= 0 else { return nil }
        return length
    }

    /// Takes one header line (status line, field, folded continuation or the blank end line).
    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        var line = bytes[...]
        while let last = line.last, last == 0x0D || last == 0x0A { line = line.dropLast() }
        guard let first = line.first else { return }
        if line.starts(with: Array("HTTP/".utf8)) {
            headers = HTTPHeaders()
        } else if first == 0x20 || first == 0x09 {
            headers.continueLastValue(with: latin1(line).trimmingASCIISpaces)
        } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            headers.append(
                name: latin1(line[..<colon]).trimmingASCIISpaces,
                value: latin1(line[(colon + 1)...]).trimmingASCIISpaces
            )
        }
    }

    /// Takes one chunk of (decoded) body; `false` stops the transfer because the body grew
    /// past ``maxResponseSize``.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard body.count + bytes.count <= maxResponseSize else {
            exceededLimit = true
            return false
        }
        if body.isEmpty, let announced = announcedLength, !headers.contains("Content-Encoding") {
            body.reserveCapacity(min(announced, maxResponseSize))
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// Field bytes as ISO-8859-1, which maps every byte to a character: header text is meant
    /// to be ASCII, and nothing a server sends can make decoding fail or lose bytes.
    private func latin1(_ bytes: Slice<UnsafeRawBufferPointer>) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingASCIISpaces: String { trimmingCharacters(in: [" ", "\t"]) }
}

// MARK: - The C callbacks
//
// Capture-less functions (C function pointers); their context is the `TransferState` passed as
// user data. They run on the worker thread inside `curl_easy_perform`.

/// `CURLOPT_WRITEFUNCTION`: a body chunk. Returning less than given makes curl fail the
/// transfer with `CURLE_WRITE_ERROR`.
func curlWriteCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let data, let user else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(user).takeUnretainedValue()
    let length = size * count
    return state.receiveBody(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

/// `CURLOPT_HEADERFUNCTION`: one complete header line, CRLF included.
func curlHeaderCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ user: UnsafeMutableRawPointer?) -> Int {
    guard let data, let user else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(user).takeUnretainedValue()
    let length = size * count
    state.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: length))
    return length
}

/// `CURLOPT_XFERINFOFUNCTION`: called often during a transfer and about once a second while
/// it idles. Non-zero aborts with `CURLE_ABORTED_BY_CALLBACK`: how a cancelled task stops a
/// request that is blocked waiting on the network.
func curlProgressCallback(_ user: UnsafeMutableRawPointer?, _: curl_off_t, _: curl_off_t, _: curl_off_t, _: curl_off_t) -> Int32 {
    guard let user else { return 0 }
    return Unmanaged<TransferState>.fromOpaque(user).takeUnretainedValue().cancellation.isCancelled ? 1 : 0
}
