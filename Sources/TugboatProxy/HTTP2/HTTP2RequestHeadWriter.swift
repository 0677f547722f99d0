import NIOCore

/// Turns an HTTP/2 request header block into the HTTP/1.1 request head the ``ProxyHandler``
/// takes, so an HTTP/2 stream goes through the same path (limits, rewriting, balancing) as an
/// HTTP/1.1 request. For the common request the parsed head is made as the bytes are written
/// (``Translated/parsed``: no second scan of them); any other is parsed from the bytes as an
/// HTTP/1.1 client's. Pure: the decoded fields' bytes in, bytes (and the head) out.
///
/// RFC 9113 §8.3.1 and §8.2: the pseudo-header fields make the request line (`:authority`
/// becomes `Host`), `cookie` fields are joined with "; " (§8.2.3), and a request carrying a
/// connection-specific field, an upper-case name, or bytes that would change the meaning of an
/// HTTP/1.1 head (CR, LF, NUL, a space in the target) is malformed: a stream error, never forwarded.
enum HTTP2RequestHeadWriter {
    struct Malformed: Error, Equatable {
        var reason: String
    }

    /// The head and how its body is framed for the HTTP/1.1 side.
    struct Translated {
        var head: ByteBuffer
        var body: HTTP2RequestBodyFramer
        var method: RequestMethod
        /// The head as ``RequestHead/parse(_:limits:reusing:)`` would make it from `head`, made
        /// while `head` was written, when the request is one that parse is sure to accept as it is
        /// (see ``directlyParsed``); nil otherwise, and the handler parses `head` as an HTTP/1.1
        /// client's (the same limits and answers: 405 for CONNECT, 431, 414, …).
        var parsed: RequestHead?
    }

    /// `endStream`: END_STREAM came with the headers (no body follows).
    static func translate(_ fields: HeaderFieldList, endStream: Bool, limits: HeadLimits = HeadLimits()) throws(Malformed) -> Translated {
        var buffer = ByteBuffer()
        var storage: [HeaderField] = []
        return try translate(fields, endStream: endStream, limits: limits, reusing: &buffer, fields: &storage)
    }

    /// The same, writing the head into `spare`'s storage (taken: `spare` is left empty) and the
    /// parsed head's fields into `storage`'s (taken when the head is made, as parse takes it), so
    /// a loop's spares serve one request after another without allocating.
    static func translate(_ fields: HeaderFieldList, endStream: Bool, limits: HeadLimits, reusing spare: inout ByteBuffer,
                          fields storage: inout [HeaderField]) throws(Malformed) -> Translated {
        let result = fields.bytes.withUnsafeBytes { bytes in
            Result { () throws(Malformed) in
                try translate(fields.fields, bytes: bytes, endStream: endStream, limits: limits, into: &spare, fields: &storage)
            }
        }
        return try result.get()
    }

    private static func translate(_ fields: [HeaderFieldList.Field], bytes: UnsafeRawBufferPointer, endStream: Bool,
                                  limits: HeadLimits, into buffer: inout ByteBuffer,
                                  fields storage: inout [HeaderField]) throws(Malformed) -> Translated {
        var method: Range<Int>?, scheme: Range<Int>?, authority: Range<Int>?, path: Range<Int>?
        var regularSeen = false
        var contentLength: Int?
        var cookies = 0
        var emptyCookie = false  // the joined line could end in "; ", which parse would trim
        var hostField: Range<Int>?
        var size = 0
        for field in fields {
            let name = Int(field.nameStart)..<Int(field.nameEnd), value = Int(field.nameEnd)..<Int(field.valueEnd)
            let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[name]), valueBytes = UnsafeRawBufferPointer(rebasing: bytes[value])
            size += name.count + value.count + 4
            if nameBytes.first == UInt8(ascii: ":") {
                guard !regularSeen else { throw Malformed(reason: "pseudo-header field \(text(nameBytes)) after a regular field") }
                switch Name(nameBytes) {
                case .method: method = try single(method, value, nameBytes)
                case .scheme: scheme = try single(scheme, value, nameBytes)
                case .authority: authority = try single(authority, value, nameBytes)
                case .path: path = try single(path, value, nameBytes)
                default: throw Malformed(reason: "unknown pseudo-header field \(text(nameBytes))")
                }
                continue
            }
            regularSeen = true
            guard isLowercaseToken(nameBytes) else { throw Malformed(reason: "invalid header field name") }
            guard isFieldValue(valueBytes) else { throw Malformed(reason: "invalid bytes in the value of \(text(nameBytes))") }
            switch Name(nameBytes) {
            case .connectionSpecific:
                throw Malformed(reason: "connection-specific header field \(text(nameBytes))")
            case .te:
                guard valueBytes.equals("trailers") else { throw Malformed(reason: "te other than trailers") }
            case .cookie:
                cookies += 1
                if valueBytes.isEmpty { emptyCookie = true }
            case .host:
                hostField = value
            case .contentLength:
                guard let length = decimal(valueBytes), contentLength == nil || contentLength == length else {
                    throw Malformed(reason: "invalid content-length")
                }
                contentLength = length
            default:
                break
            }
        }
        guard let method, isToken(UnsafeRawBufferPointer(rebasing: bytes[method])) else { throw Malformed(reason: "missing or invalid :method") }
        let methodBytes = UnsafeRawBufferPointer(rebasing: bytes[method])
        let target: Range<Int>
        if methodBytes.equals("CONNECT") {
            // RFC 9113 §8.5: only :method and :authority. The HTTP/1.1 path answers 405.
            guard let authority, scheme == nil, path == nil else { throw Malformed(reason: "CONNECT needs :authority alone") }
            target = authority
        } else {
            guard scheme != nil else { throw Malformed(reason: "missing :scheme") }
            guard let path, !path.isEmpty else { throw Malformed(reason: "missing :path") }
            target = path
        }
        guard isTarget(UnsafeRawBufferPointer(rebasing: bytes[target])) else { throw Malformed(reason: "invalid :path") }
        let host = authority ?? hostField
        if let host, !isAuthority(UnsafeRawBufferPointer(rebasing: bytes[host])) { throw Malformed(reason: "invalid :authority") }

        let body: HTTP2RequestBodyFramer
        if endStream {
            guard contentLength ?? 0 == 0 else { throw Malformed(reason: "content-length with no body") }
            body = HTTP2RequestBodyFramer(.none)
        } else if let contentLength {
            body = HTTP2RequestBodyFramer(.length(contentLength))
        } else {
            body = HTTP2RequestBodyFramer(.chunked)
        }

        var out = buffer
        buffer = ByteBuffer()
        // Every field's name, value and 4 bytes (`size`) pay for its line here, and no field's
        // bytes are written more than twice (CONNECT's :authority is the target and the Host);
        // the fixed words (" HTTP/1.1", the joined cookie line's name, framing) fit in the 128.
        let bound = 2 * size + 128
        out.clear(minimumCapacity: bound)
        let requestMethod = RequestMethod(methodBytes)
        // The parsed head, line by line as written: only for what parse is sure to accept as it
        // is (``directlyParsed``); the rest goes the HTTP/1.1 way, errors and all.
        var parsed: RequestHead?
        if host != nil, !emptyCookie, requestMethod != .connect, requestMethod != .trace, bytes[target.lowerBound] == UInt8(ascii: "/"),
           target.count <= limits.maxTargetBytes {
            var head = RequestHead()
            swap(&head.headers, &storage)
            head.headers.removeAll(keepingCapacity: true)
            head.method = requestMethod
            parsed = head
        }
        HeadWriter.write(into: &out, bound: bound) { out in
            out.bytes(methodBytes)
            parsed?.methodEnd = out.count
            out.byte(UInt8(ascii: " "))
            parsed?.targetStart = out.count
            out.bytes(bytes, target)
            parsed?.targetEnd = out.count
            out.text(" HTTP/1.1\r\n")
            parsed?.requestLineEnd = out.count
            if let host {
                parsed?.hostIndex = 0
                line(&out, "host", kind: .host, into: &parsed) { $0.bytes(bytes, host) }
            }
            for field in fields {
                let name = Int(field.nameStart)..<Int(field.nameEnd)
                let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[name])
                if nameBytes.first == UInt8(ascii: ":") { continue }
                switch Name(nameBytes) {
                case .host, .cookie, .te, .contentLength: continue
                default: break
                }
                let kind = parsed == nil ? .other : HeaderKind(name: nameBytes)
                let value = Int(field.nameEnd)..<Int(field.valueEnd)
                line(&out, nameBytes, kind: kind, into: &parsed) { $0.bytes(bytes, value) }
                if kind == .expect { parsed?.expectsContinue = HeadScanner.equals(bytes, value, "100-continue") }
            }
            if cookies > 0 {
                line(&out, "cookie", kind: .other, into: &parsed) { out in
                    var written = 0
                    for field in fields where Name(UnsafeRawBufferPointer(rebasing: bytes[Int(field.nameStart)..<Int(field.nameEnd)])) == .cookie {
                        if written > 0 { out.text("; ") }
                        out.bytes(bytes, Int(field.nameEnd)..<Int(field.valueEnd))
                        written += 1
                    }
                }
            }
            switch body.framing {
            case .length(let length):
                line(&out, "content-length", kind: .contentLength, into: &parsed) { $0.decimal(length) }
                parsed?.framing = .length(length)
            case .chunked:
                line(&out, "transfer-encoding", kind: .transferEncoding, into: &parsed) { $0.text("chunked") }
                parsed?.framing = .chunked
            case .none:
                if contentLength == 0 {
                    line(&out, "content-length", kind: .contentLength, into: &parsed) { $0.text("0") }
                    parsed?.framing = .length(0)
                }
            }
            out.text("\r\n")
        }
        if let head = parsed, !directlyParsed(head, length: out.readableBytes, limits: limits) {
            storage = head.headers  // given back: the handler's parse takes it from where it was
            parsed = nil
        }
        return Translated(head: out, body: body, method: requestMethod, parsed: parsed)
    }

    /// One header line, `name: value\r\n`, and its field in `parsed` (offsets as
    /// ``HeadScanner`` finds them: the value starts after ": ", and has no surrounding whitespace
    /// — ``isFieldValue`` refused any).
    @inline(__always)
    private static func line(_ out: inout HeadWriter, _ name: UnsafeRawBufferPointer, kind: HeaderKind, into parsed: inout RequestHead?,
                             value: (inout HeadWriter) -> Void) {
        let lineStart = out.count
        out.bytes(name)
        let nameEnd = out.count
        out.text(": ")
        let valueStart = out.count
        value(&out)
        let valueEnd = out.count
        out.text("\r\n")
        parsed?.headers.append(HeaderField(lineStart: Int32(truncatingIfNeeded: lineStart), nameEnd: Int32(truncatingIfNeeded: nameEnd),
                                           valueStart: Int32(truncatingIfNeeded: valueStart), valueEnd: Int32(truncatingIfNeeded: valueEnd),
                                           lineEnd: Int32(truncatingIfNeeded: out.count), kind: kind))
    }

    @inline(__always)
    private static func line(_ out: inout HeadWriter, _ name: StaticString, kind: HeaderKind, into parsed: inout RequestHead?,
                             value: (inout HeadWriter) -> Void) {
        line(&out, UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), kind: kind, into: &parsed, value: value)
    }

    /// Whether ``RequestHead/parse(_:limits:reusing:)`` would accept the written head and make
    /// `head` of it. What the translation has made sure of already: a token method, a target of
    /// visible ASCII in origin form (`/…`; not CONNECT, not TRACE), one `host` line, lower-case
    /// token names, values without control bytes or surrounding whitespace, no `connection`,
    /// `upgrade`, `keep-alive` or `transfer-encoding` but its own framing line (so keep-alive,
    /// no upgrade, no connection-named fields). What is left is the limits on the head's size,
    /// its number of fields and the target's length (checked before the head was made).
    private static func directlyParsed(_ head: RequestHead, length: Int, limits: HeadLimits) -> Bool {
        length <= limits.maxHeadBytes && head.headers.count <= limits.maxHeaderCount
    }

    /// The field names the translation looks at.
    private enum Name: Equatable {
        case method, scheme, authority, path
        case connectionSpecific, te, cookie, host, contentLength
        case other

        init(_ name: UnsafeRawBufferPointer) {
            switch name.count {
            case 2 where name.equals("te"): self = .te
            case 4 where name.equals("host"): self = .host
            case 5 where name.equals(":path"): self = .path
            case 6 where name.equals("cookie"): self = .cookie
            case 7 where name.equals(":method"): self = .method
            case 7 where name.equals(":scheme"): self = .scheme
            case 7 where name.equals("upgrade"): self = .connectionSpecific
            case 10 where name.equals(":authority"): self = .authority
            case 10 where name.equals("connection"), 10 where name.equals("keep-alive"):
                self = .connectionSpecific
            case 14 where name.equals("content-length"): self = .contentLength
            case 16 where name.equals("proxy-connection"): self = .connectionSpecific
            case 17 where name.equals("transfer-encoding"): self = .connectionSpecific
            default: self = .other
            }
        }
    }

    private static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.prefix(64), as: UTF8.self)
    }

    private static func single(_ existing: Range<Int>?, _ value: Range<Int>, _ name: UnsafeRawBufferPointer) throws(Malformed) -> Range<Int> {
        guard existing == nil else { throw Malformed(reason: "\(text(name)) more than once") }
        return value
    }

    /// Digits only, at most 18 of them (no overflow).
    private static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte &- 0x30 < 10 else { return nil }
            value = value * 10 + Int(byte &- 0x30)
        }
        return value
    }

    static func isToken(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(HeadScanner.isTokenByte)
    }

    /// RFC 9113 §8.2.1: field names are lower-case tokens.
    static func isLowercaseToken(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { HeadScanner.isTokenByte($0) && !($0 &- 0x41 < 26) }
    }

    /// No CR, LF, NUL or other control bytes (tab allowed), no leading or trailing whitespace.
    static func isFieldValue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let first = bytes.first, first == 0x20 || first == 0x09 { return false }
        if let last = bytes.last, last == 0x20 || last == 0x09 { return false }
        return bytes.allSatisfy { HeadScanner.isValueByte($0) }
    }

    /// A request target: visible ASCII, no spaces.
    static func isTarget(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// An authority (`:authority`, or `host` without one): a target with no `/`, `?`, `#` — a
    /// backend could read them as the start of a path — and no userinfo `@` (RFC 9113 §8.3.1).
    static func isAuthority(_ bytes: UnsafeRawBufferPointer) -> Bool {
        isTarget(bytes) && !bytes.contains { $0 == 0x2F || $0 == 0x3F || $0 == 0x23 || $0 == 0x40 }
    }
}
