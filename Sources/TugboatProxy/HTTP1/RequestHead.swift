#if canImport(Glibc)
import Glibc
#endif

/// How a message's body is delimited, decided by the proxy alone (RFC 9112 §6.3).
package enum BodyFraming: Equatable {
    case none
    case length(Int)
    case chunked
    /// Responses only: the body runs until the backend closes the connection.
    case untilClose
}

/// The request methods the proxy must tell apart.
enum RequestMethod: Equatable {
    case get, head, post, put, delete, options, trace, connect, patch, other

    init(_ bytes: UnsafeRawBufferPointer) {
        switch bytes.count {
        case 3 where bytes.equalsExactly("GET"): self = .get
        case 3 where bytes.equalsExactly("PUT"): self = .put
        case 4 where bytes.equalsExactly("HEAD"): self = .head
        case 4 where bytes.equalsExactly("POST"): self = .post
        case 5 where bytes.equalsExactly("TRACE"): self = .trace
        case 5 where bytes.equalsExactly("PATCH"): self = .patch
        case 6 where bytes.equalsExactly("DELETE"): self = .delete
        case 7 where bytes.equalsExactly("OPTIONS"): self = .options
        case 7 where bytes.equalsExactly("CONNECT"): self = .connect
        default: self = .other
        }
    }

    /// Safe to send again to another backend when nothing of it was answered (RFC 9110 §9.2.2).
    var isIdempotent: Bool {
        switch self {
        case .get, .head, .options, .put, .delete, .trace: return true
        default: return false
        }
    }
}

/// A parsed request head: offsets into its bytes, and what the proxy decided about it.
package struct RequestHead {
    var method: RequestMethod = .other
    package var methodEnd = 0
    package var targetStart = 0
    package var targetEnd = 0
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    package var minorVersion = 1
    var requestLineEnd = 0
    package var headers: [HeaderField] = []
    package var framing: BodyFraming = .none
    package var keepAlive = true
    package var isUpgrade = false
    var hostIndex: Int?
    var expectsContinue = false
    /// Names listed in `Connection` besides close/keep-alive/upgrade (rare): headers to drop too.
    var connectionNamed: [Range<Int>] = []

    /// Parses and judges the head in `bytes` (exactly the head, through its empty line).
    /// `storage` is an array to reuse for the fields (its elements are discarded; it is left
    /// empty), so a parse allocates nothing once the array has grown; take it back from `headers`.
    package static func parse(_ bytes: UnsafeRawBufferPointer, limits: HeadLimits = HeadLimits(),
                              reusing storage: inout [HeaderField]) throws(HeadError) -> RequestHead {
        var head = RequestHead()
        swap(&head.headers, &storage)
        head.headers.removeAll(keepingCapacity: true)
        head.headers.reserveCapacity(16)
        try head.parseRequestLine(bytes, limits: limits)
        try HeadScanner.headers(bytes, from: head.requestLineEnd, limits: limits, into: &head.headers)
        try head.interpretHeaders(bytes)
        return head
    }

    package static func parse(_ bytes: UnsafeRawBufferPointer, limits: HeadLimits = HeadLimits()) throws(HeadError) -> RequestHead {
        var storage: [HeaderField] = []
        return try parse(bytes, limits: limits, reusing: &storage)
    }

    private mutating func parseRequestLine(_ bytes: UnsafeRawBufferPointer, limits: HeadLimits) throws(HeadError) {
        let (end, next) = try HeadScanner.line(bytes, from: 0)
        var index = 0
        while index < end, HeadScanner.isTokenByte(bytes[index]) { index += 1 }
        guard index > 0, index < end, bytes[index] == 0x20 else { throw .malformed("invalid request line") }
        methodEnd = index
        method = RequestMethod(UnsafeRawBufferPointer(rebasing: bytes[0..<index]))
        targetStart = index + 1
        index = targetStart
        while index < end, bytes[index] > 0x20, bytes[index] < 0x7F { index += 1 }
        targetEnd = index
        if targetEnd - targetStart > limits.maxTargetBytes {
            throw HeadError(kind: .targetTooLong, reason: "request target longer than \(limits.maxTargetBytes / 1024) KiB")
        }
        guard targetEnd > targetStart, index < end, bytes[index] == 0x20, end - index == 9 else {
            throw .malformed("invalid request line")
        }
        guard Self.isValidTargetForm(bytes, targetStart..<targetEnd, method: method) else {
            throw .malformed("invalid request target")
        }
        let version = UnsafeRawBufferPointer(rebasing: bytes[(index + 1)..<end])
        guard HeadScanner.startsWithHTTPSlash(version, at: 0), version[6] == 0x2E,
              version[5] &- 0x30 < 10, version[7] &- 0x30 < 10 else {
            throw .malformed("invalid HTTP version")
        }
        guard version[5] == 0x31, version[7] <= 0x31 else {
            throw HeadError(kind: .versionNotSupported, reason: "only HTTP/1.0 and HTTP/1.1 are spoken here")
        }
        minorVersion = Int(version[7] - 0x30)
        requestLineEnd = next
    }

    private mutating func interpretHeaders(_ bytes: UnsafeRawBufferPointer) throws(HeadError) {
        var fields = FramingFields()
        var upgradeHeader = false
        var offersH2C = false
        for (index, field) in headers.enumerated() {
            if try fields.add(field, bytes: bytes) { continue }
            switch field.kind {
            case .host:
                guard hostIndex == nil else { throw .malformed("more than one Host header") }
                hostIndex = index
            case .upgrade:
                // An upgrade names at least one protocol; an empty Upgrade is none.
                try HeadScanner.forEachListElement(bytes, field.valueRange) { token throws(HeadError) in
                    upgradeHeader = true
                    if HeadScanner.equals(bytes, token, "h2c") { offersH2C = true }
                }
            case .expect:
                expectsContinue = HeadScanner.equals(bytes, field.valueRange, "100-continue")
            default:
                break
            }
        }
        keepAlive = fields.keepAlive(minorVersion: minorVersion)
        connectionNamed = fields.connectionNamed
        let contentLength = fields.contentLength
        if hostIndex == nil && minorVersion == 1 { throw .malformed("HTTP/1.1 request without Host") }
        if let hostIndex, let authority = Self.absoluteFormAuthority(bytes, targetStart..<targetEnd),
           !HeadScanner.equalsIgnoringCase(bytes, authority, headers[hostIndex].valueRange) {
            // RFC 9112 §3.2: Host must be the target's authority. A backend takes the authority
            // (§3.2.2) where the proxy's X-Forwarded-Host and logs say the Host: refused, as HAProxy does.
            throw .malformed("Host does not match the request target's authority")
        }
        if fields.sawTransferEncoding {
            if contentLength != nil { throw .malformed("both Content-Length and Transfer-Encoding") }
            if minorVersion == 0 { throw .malformed("Transfer-Encoding in an HTTP/1.0 request") }
            if !fields.lastCodingIsChunked || fields.chunkedCount > 1 {
                throw .malformed("Transfer-Encoding must end with a single chunked")
            }
            if fields.otherCodings {
                throw HeadError(kind: .notImplemented, reason: "transfer codings other than chunked are not supported")
            }
            framing = .chunked
        } else if let contentLength {
            framing = .length(contentLength)  // 0 included: the backend is told so, as the client did
        }
        switch method {
        case .connect:
            throw HeadError(kind: .methodNotAllowed, reason: "CONNECT is not forwarded")
        case .trace where framing != .none && framing != .length(0):
            throw .malformed("TRACE with a body")
        default:
            break
        }
        // An h2c upgrade (cleartext HTTP/2, RFC 7540 §3.2) is never passed on: a backend that took
        // it would speak HTTP/2 with the client through a tunnel, past every rule of the proxy's
        // (its forwarding headers among them) — "h2c smuggling". The request goes on as plain
        // HTTP/1.1, its Upgrade field dropped, as a server may ignore Upgrade (RFC 9110 §7.8).
        isUpgrade = upgradeHeader && !offersH2C && fields.connectionUpgrade && minorVersion == 1
    }

    /// RFC 9112 §3.2: origin-form (`/path?query`), absolute-form (`scheme://…`), asterisk-form
    /// (`*`, OPTIONS only); authority-form belongs to CONNECT, which is refused anyway.
    private static func isValidTargetForm(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, method: RequestMethod) -> Bool {
        let first = bytes[range.lowerBound]
        if first == 0x2F { return true }
        if first == 0x2A { return range.count == 1 && method == .options }
        guard first &- 0x41 < 26 || first &- 0x61 < 26 else { return method == .connect }
        var index = range.lowerBound + 1
        while index < range.upperBound {
            let byte = bytes[index]
            if byte == 0x3A {
                let absolute = index + 2 < range.upperBound && bytes[index + 1] == 0x2F && bytes[index + 2] == 0x2F
                return absolute || method == .connect
            }
            guard byte &- 0x41 < 26 || byte &- 0x61 < 26 || byte &- 0x30 < 10 || byte == 0x2B || byte == 0x2D || byte == 0x2E else {
                return method == .connect
            }
            index += 1
        }
        return method == .connect
    }

    /// The authority of an absolute-form target (`scheme://authority/…`), without its userinfo; nil
    /// for any other form.
    static func absoluteFormAuthority(_ bytes: UnsafeRawBufferPointer, _ target: Range<Int>) -> Range<Int>? {
        guard let first = target.first, bytes[first] != 0x2F, bytes[first] != 0x2A else { return nil }
        var index = first
        while index + 2 < target.upperBound {
            if bytes[index] == 0x3A && bytes[index + 1] == 0x2F && bytes[index + 2] == 0x2F { break }
            index += 1
        }
        guard index + 2 < target.upperBound else { return nil }
        var start = index + 3
        var end = start
        while end < target.upperBound, bytes[end] != 0x2F, bytes[end] != 0x3F, bytes[end] != 0x23 {
            if bytes[end] == 0x40 { start = end + 1 }  // userinfo@
            end += 1
        }
        return start..<end
    }

    /// Whether the header named by `field` was listed in the request's `Connection` header.
    func isConnectionNamed(_ field: HeaderField, in bytes: UnsafeRawBufferPointer) -> Bool {
        FramingFields.names(connectionNamed, include: field, in: bytes)
    }
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

extension UnsafeRawBufferPointer {
    @inline(__always)
    func equalsExactly(_ literal: StaticString) -> Bool {
        guard count == literal.utf8CodeUnitCount else { return false }
        return memcmp(baseAddress!, literal.utf8Start, count) == 0
    }
}
