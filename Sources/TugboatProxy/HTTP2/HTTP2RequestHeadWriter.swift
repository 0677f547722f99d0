import NIOCore

/// Turns an HTTP/2 request header block into the HTTP/1.1 request head the ``ProxyHandler``
/// parses, so an HTTP/2 stream goes through the same path (limits, rewriting, balancing) as an
/// HTTP/1.1 request. Pure: the decoded fields' bytes in, bytes out.
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
    }

    /// `endStream`: END_STREAM came with the headers (no body follows).
    static func translate(_ fields: HeaderFieldList, endStream: Bool) throws(Malformed) -> Translated {
        var buffer = ByteBuffer()
        return try translate(fields, endStream: endStream, reusing: &buffer)
    }

    /// The same, writing the head into `spare`'s storage (taken: `spare` is left empty), so a
    /// loop's spare buffers serve one request after another without allocating.
    static func translate(_ fields: HeaderFieldList, endStream: Bool, reusing spare: inout ByteBuffer) throws(Malformed) -> Translated {
        let result = fields.bytes.withUnsafeBytes { bytes in
            Result { () throws(Malformed) in try translate(fields.fields, bytes: bytes, endStream: endStream, into: &spare) }
        }
        return try result.get()
    }

    private static func translate(_ fields: [HeaderFieldList.Field], bytes: UnsafeRawBufferPointer, endStream: Bool,
                                  into buffer: inout ByteBuffer) throws(Malformed) -> Translated {
        var method: Range<Int>?, scheme: Range<Int>?, authority: Range<Int>?, path: Range<Int>?
        var regularSeen = false
        var contentLength: Int?
        var cookies = 0
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
        if let host, !isTarget(UnsafeRawBufferPointer(rebasing: bytes[host])) { throw Malformed(reason: "invalid :authority") }

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
        HeadWriter.write(into: &out, bound: bound) { out in
            out.bytes(methodBytes)
            out.byte(UInt8(ascii: " "))
            out.bytes(bytes, target)
            out.text(" HTTP/1.1\r\n")
            if let host {
                out.text("host: ")
                out.bytes(bytes, host)
                out.text("\r\n")
            }
            for field in fields {
                let name = Int(field.nameStart)..<Int(field.nameEnd)
                let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[name])
                if nameBytes.first == UInt8(ascii: ":") { continue }
                switch Name(nameBytes) {
                case .host, .cookie, .te, .contentLength: continue
                default: break
                }
                out.bytes(nameBytes)
                out.text(": ")
                out.bytes(bytes, Int(field.nameEnd)..<Int(field.valueEnd))
                out.text("\r\n")
            }
            if cookies > 0 {
                out.text("cookie: ")
                var written = 0
                for field in fields where Name(UnsafeRawBufferPointer(rebasing: bytes[Int(field.nameStart)..<Int(field.nameEnd)])) == .cookie {
                    if written > 0 { out.text("; ") }
                    out.bytes(bytes, Int(field.nameEnd)..<Int(field.valueEnd))
                    written += 1
                }
                out.text("\r\n")
            }
            switch body.framing {
            case .length(let length):
                out.text("content-length: ")
                out.decimal(length)
                out.text("\r\n")
            case .chunked:
                out.text("transfer-encoding: chunked\r\n")
            case .none:
                if contentLength == 0 { out.text("content-length: 0\r\n") }
            }
            out.text("\r\n")
        }
        return Translated(head: out, body: body, method: RequestMethod(methodBytes))
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

    /// A request target or authority: visible ASCII, no spaces.
    static func isTarget(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
