/// What a head's `Content-Length`, `Transfer-Encoding` and `Connection` fields say, gathered field
/// by field. Requests and responses read them the same way; each judges the result by its own rules.
struct FramingFields {
    var contentLength: Int?
    var sawTransferEncoding = false
    /// The codings, across every Transfer-Encoding line, are exactly one final `chunked`.
    var isSingleFinalChunked: Bool { lastCodingIsChunked && chunkedCount == 1 && !otherCodings }
    var lastCodingIsChunked = false
    var chunkedCount = 0
    var otherCodings = false
    var sawClose = false
    var sawKeepAlive = false
    var connectionUpgrade = false
    /// Names listed in `Connection` besides close/keep-alive/upgrade: headers to drop too.
    var connectionNamed: [Range<Int>] = []
    /// At most this many: every other field is checked against each, so a head naming thousands
    /// (a 64 KiB head holds 30,000) would cost the proxy milliseconds of CPU. Real clients and
    /// servers name one or two, if any.
    static let maxConnectionNamed = 32

    /// Takes in `field` if it is one of the three; false for any other field (most of a head's:
    /// told apart here, inlined into the caller's loop, without a call).
    @inline(__always)
    mutating func add(_ field: HeaderField, bytes: UnsafeRawBufferPointer) throws(HeadError) -> Bool {
        switch field.kind {
        case .contentLength, .transferEncoding, .connection:
            try take(field, bytes: bytes)
            return true
        default:
            return false
        }
    }

    private mutating func take(_ field: HeaderField, bytes: UnsafeRawBufferPointer) throws(HeadError) {
        let value = field.valueRange
        switch field.kind {
        case .contentLength:
            guard let length = HeadScanner.contentLength(bytes, value) else { throw .malformed("invalid Content-Length") }
            if let contentLength, contentLength != length { throw .malformed("conflicting Content-Length headers") }
            contentLength = length
        case .transferEncoding:
            sawTransferEncoding = true
            try HeadScanner.forEachListElement(bytes, value) { coding throws(HeadError) in
                if HeadScanner.equals(bytes, coding, "chunked") {
                    chunkedCount += 1
                    lastCodingIsChunked = true
                } else {
                    otherCodings = true
                    lastCodingIsChunked = false
                }
            }
        case .connection:
            try HeadScanner.forEachListElement(bytes, value) { token throws(HeadError) in
                if HeadScanner.equals(bytes, token, "close") {
                    sawClose = true
                } else if HeadScanner.equals(bytes, token, "keep-alive") {
                    sawKeepAlive = true
                } else if HeadScanner.equals(bytes, token, "upgrade") {
                    connectionUpgrade = true
                } else {
                    guard connectionNamed.count < Self.maxConnectionNamed else {
                        throw .malformed("Connection names more than \(Self.maxConnectionNamed) header fields")
                    }
                    connectionNamed.append(token)
                }
            }
        default:
            break
        }
    }

    /// Persistence (RFC 9112 §9.3): close wins wherever it is listed; HTTP/1.1 persists by
    /// default, HTTP/1.0 only when it asks to.
    func keepAlive(minorVersion: Int) -> Bool {
        !sawClose && (minorVersion == 1 || sawKeepAlive)
    }

    /// Whether `field`'s name is one of `names` (ranges of tokens in the same bytes), ignoring case.
    static func names(_ names: [Range<Int>], include field: HeaderField, in bytes: UnsafeRawBufferPointer) -> Bool {
        guard !names.isEmpty else { return false }
        let name = Int(field.lineStart)..<Int(field.nameEnd)
        return names.contains { HeadScanner.equalsIgnoringCase(bytes, $0, name) }
    }
}
