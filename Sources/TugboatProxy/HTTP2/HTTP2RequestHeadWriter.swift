import NIOCore
import NIOHPACK

/// Turns an HTTP/2 request header block into the HTTP/1.1 request head the ``ProxyHandler``
/// parses, so an HTTP/2 stream goes through the same path (limits, rewriting, balancing) as an
/// HTTP/1.1 request. Pure: bytes in, bytes out.
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
    static func translate(_ headers: HPACKHeaders, endStream: Bool, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(Malformed) -> Translated {
        var method: String?, scheme: String?, authority: String?, path: String?
        var regularSeen = false
        var contentLength: Int?
        var cookies: [String] = []
        var hostField: String?
        var size = 0
        for (name, value, _) in headers {
            size += name.utf8.count + value.utf8.count + 4
            if name.utf8.first == UInt8(ascii: ":") {
                guard !regularSeen else { throw Malformed(reason: "pseudo-header field \(name) after a regular field") }
                switch name {
                case ":method": method = try Self.single(method, value, name)
                case ":scheme": scheme = try Self.single(scheme, value, name)
                case ":authority": authority = try Self.single(authority, value, name)
                case ":path": path = try Self.single(path, value, name)
                default: throw Malformed(reason: "unknown pseudo-header field \(name)")
                }
                continue
            }
            regularSeen = true
            guard Self.isLowercaseToken(name) else { throw Malformed(reason: "invalid header field name") }
            guard Self.isFieldValue(value) else { throw Malformed(reason: "invalid bytes in the value of \(name)") }
            switch name {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
                throw Malformed(reason: "connection-specific header field \(name)")
            case "te":
                guard value == "trailers" else { throw Malformed(reason: "te other than trailers") }
            case "cookie":
                cookies.append(value)
            case "host":
                hostField = value
            case "content-length":
                guard let length = Int(value), length >= 0, value.utf8.allSatisfy({ $0 &- 0x30 < 10 }),
                      contentLength == nil || contentLength == length else {
                    throw Malformed(reason: "invalid content-length")
                }
                contentLength = length
            default:
                break
            }
        }
        guard let method, Self.isToken(method) else { throw Malformed(reason: "missing or invalid :method") }
        let isConnect = method == "CONNECT"
        let target: String
        if isConnect {
            // RFC 9113 §8.5: only :method and :authority. The HTTP/1.1 path answers 405.
            guard let authority, scheme == nil, path == nil else { throw Malformed(reason: "CONNECT needs :authority alone") }
            target = authority
        } else {
            guard scheme != nil else { throw Malformed(reason: "missing :scheme") }
            guard let path, !path.isEmpty else { throw Malformed(reason: "missing :path") }
            target = path
        }
        guard Self.isTarget(target) else { throw Malformed(reason: "invalid :path") }
        let host = authority ?? hostField
        if let host, !Self.isTarget(host) { throw Malformed(reason: "invalid :authority") }

        let body: HTTP2RequestBodyFramer
        if endStream {
            guard contentLength ?? 0 == 0 else { throw Malformed(reason: "content-length with no body") }
            body = HTTP2RequestBodyFramer(.none)
        } else if let contentLength {
            body = HTTP2RequestBodyFramer(.length(contentLength))
        } else {
            body = HTTP2RequestBodyFramer(.chunked)
        }

        var out = allocator.buffer(capacity: size + 64)
        out.writeString(method)
        out.writeStaticString(" ")
        out.writeString(target)
        out.writeStaticString(" HTTP/1.1\r\n")
        if let host {
            out.writeStaticString("host: ")
            out.writeString(host)
            out.writeStaticString("\r\n")
        }
        for (name, value, _) in headers {
            switch name {
            case "host", "cookie", "te", "content-length": continue
            default:
                if name.utf8.first == UInt8(ascii: ":") { continue }
            }
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if !cookies.isEmpty {
            out.writeStaticString("cookie: ")
            out.writeString(cookies.joined(separator: "; "))
            out.writeStaticString("\r\n")
        }
        switch body.framing {
        case .length(let length):
            out.writeStaticString("content-length: ")
            out.writeString(String(length))
            out.writeStaticString("\r\n")
        case .chunked:
            out.writeStaticString("transfer-encoding: chunked\r\n")
        case .none:
            if contentLength == 0 { out.writeStaticString("content-length: 0\r\n") }
        }
        out.writeStaticString("\r\n")
        let requestMethod = method.utf8.withContiguousStorageIfAvailable { RequestMethod(UnsafeRawBufferPointer($0)) } ?? .other
        return Translated(head: out, body: body, method: requestMethod)
    }

    private static func single(_ existing: String?, _ value: String, _ name: String) throws(Malformed) -> String {
        guard existing == nil else { throw Malformed(reason: "\(name) more than once") }
        return value
    }

    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(HeadScanner.isTokenByte)
    }

    /// RFC 9113 §8.2.1: field names are lower-case tokens.
    static func isLowercaseToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { HeadScanner.isTokenByte($0) && !($0 &- 0x41 < 26) }
    }

    /// No CR, LF, NUL or other control bytes (tab allowed), no leading or trailing whitespace.
    static func isFieldValue(_ text: String) -> Bool {
        let bytes = text.utf8
        if let first = bytes.first, first == 0x20 || first == 0x09 { return false }
        if let last = bytes.last, last == 0x20 || last == 0x09 { return false }
        return bytes.allSatisfy { HeadScanner.isValueByte($0) }
    }

    /// A request target or authority: visible ASCII, no spaces.
    static func isTarget(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
