import NIOCore

/// What the proxy adds to a request on its way to a backend.
struct ForwardingContext {
    /// The client's address as text (`X-Forwarded-For`).
    var clientIP: [UInt8]
    /// The client is one of `trusted-proxies`: its forwarding headers are kept (and extended).
    var trusted: Bool
    /// `X-Request-Id` to add when the request carries none.
    var generatedID: RequestID
    /// The client came over TLS (`X-Forwarded-Proto: https`).
    var https = false
    /// The client spoke HTTP/2 (the head was translated): `Via: 2 tugboat` on the request.
    var http2 = false
}

/// Builds the heads the proxy forwards, from the original bytes with only the edits the contract
/// needs, as one buffer: the request line and header lines are copied as they came (in runs of
/// consecutive kept lines), hop-by-hop headers dropped, framing and forwarding headers written by us.
enum ForwardedHeads {
    /// `Via` names the protocol received (RFC 9110 §7.6.3): from the client on the request, from
    /// the backend (HTTP/1.1) on the response.
    static let via: StaticString = "1.1 tugboat"

    /// The request head for the backend (always HTTP/1.1, keep-alive). Returns where the request
    /// id's value lies in the client's head, or nil when the generated one was added.
    static func request(_ head: RequestHead, bytes: UnsafeRawBufferPointer, context: ForwardingContext,
                        into out: inout ByteBuffer) -> Range<Int>? {
        var requestID: Range<Int>?
        HeadWriter.write(into: &out, bound: requestBound(head, bytes: bytes, context: context)) { writer in
            requestID = request(head, bytes: bytes, context: context, to: &writer)
        }
        return requestID
    }

    /// What ``request(_:bytes:context:into:)`` writes at most: the client's lines (each kept one
    /// once, a bare LF made CRLF; the dropped `Via` and `X-Forwarded-For` lines hold more than
    /// their values re-written), the Host value again in `X-Forwarded-Host`, the client's address
    /// and the fixed lines (under 256 bytes).
    static func requestBound(_ head: RequestHead, bytes: UnsafeRawBufferPointer, context: ForwardingContext) -> Int {
        2 * bytes.count + head.headers.count + context.clientIP.count + 256 + RequestID.maxLength
    }

    private static func request(_ head: RequestHead, bytes: UnsafeRawBufferPointer, context: ForwardingContext,
                                to out: inout HeadWriter) -> Range<Int>? {
        out.bytes(bytes, 0..<head.targetEnd)
        out.text(" HTTP/1.1\r\n")
        var requestID: Range<Int>?
        var forwardedFor: [Range<Int>] = []
        var via: [Range<Int>] = []
        var keptProto = false, keptHost = false
        var run = LineRun()
        for field in head.headers {
            let keep: Bool
            switch field.kind {
            case .upgrade:
                keep = head.isUpgrade
            case .contentLength, .via, .xForwardedFor:
                keep = false
                if field.kind == .via { via.append(field.valueRange) }
                if field.kind == .xForwardedFor && context.trusted { forwardedFor.append(field.valueRange) }
            case .forwarded, .xRealIP:
                keep = context.trusted
            case .xForwardedProto:
                keep = context.trusted && !keptProto
                keptProto = keptProto || keep
            case .xForwardedHost:
                keep = context.trusted && !keptHost
                keptHost = keptHost || keep
            case .xRequestID:
                keep = true
                if requestID == nil && field.valueStart < field.valueEnd { requestID = field.valueRange }
            default:
                keep = !field.kind.isHopByHop && !head.isConnectionNamed(field, in: bytes)
            }
            run.add(field, keep: keep, bytes: bytes, to: &out)
        }
        run.flush(bytes: bytes, to: &out)
        if head.isUpgrade { out.text("connection: upgrade\r\n") }
        out.text("x-forwarded-for: ")
        for range in forwardedFor {
            out.bytes(bytes, range)
            out.text(", ")
        }
        out.bytes(context.clientIP)
        out.text("\r\n")
        if !keptProto { out.text(context.https ? "x-forwarded-proto: https\r\n" : "x-forwarded-proto: http\r\n") }
        if !keptHost, let host = head.hostIndex {
            out.text("x-forwarded-host: ")
            out.bytes(bytes, head.headers[host].valueRange)
            out.text("\r\n")
        }
        writeVia(via, received: context.http2 ? "2 tugboat" : head.minorVersion == 0 ? "1.0 tugboat" : Self.via,
                 bytes: bytes, to: &out)
        if requestID == nil {
            out.text("x-request-id: ")
            context.generatedID.write(to: &out)
            out.text("\r\n")
        }
        switch head.framing {
        case .length(let length):
            out.text("content-length: ")
            out.decimal(length)
            out.text("\r\n")
        case .chunked:
            out.text("transfer-encoding: chunked\r\n")
        case .none, .untilClose:
            break
        }
        out.text("\r\n")
        return requestID
    }

    /// The response head for the client, in the client's HTTP version.
    static func response(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, clientMinorVersion: Int,
                         closeClient: Bool, dechunk: Bool, requestID: RequestIDSource,
                         into out: inout ByteBuffer) {
        // The backend's lines (a bare LF made CRLF, dropped `Via` lines longer than their values
        // re-written), the request id, and the fixed lines (under 256 bytes).
        let bound = 2 * bytes.count + head.headers.count + requestID.maxLength + 256
        HeadWriter.write(into: &out, bound: bound) { writer in
            response(head, bytes: bytes, clientMinorVersion: clientMinorVersion, closeClient: closeClient,
                     dechunk: dechunk, requestID: requestID, to: &writer)
        }
    }

    private static func response(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, clientMinorVersion: Int,
                                 closeClient: Bool, dechunk: Bool, requestID: RequestIDSource,
                                 to out: inout HeadWriter) {
        out.text(clientMinorVersion == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        if bytes[head.statusLineEnd - 2] != 0x0D {
            // The backend ended its status line with a bare LF: end it properly.
            out.bytes(bytes, head.statusStart..<(head.statusLineEnd - 1))
            out.text("\r\n")
        } else {
            out.bytes(bytes, head.statusStart..<head.statusLineEnd)
        }
        let switching = head.status == 101
        var via: [Range<Int>] = []
        var hasID = false
        var run = LineRun()
        for field in head.headers {
            let keep: Bool
            switch field.kind {
            case .upgrade:
                keep = switching
            case .via:
                keep = false
                via.append(field.valueRange)
            case .xRequestID:
                keep = true
                hasID = true
            case .contentLength:
                keep = true
            default:
                keep = !field.kind.isHopByHop && !head.isConnectionNamed(field, in: bytes)
            }
            run.add(field, keep: keep, bytes: bytes, to: &out)
        }
        run.flush(bytes: bytes, to: &out)
        if head.framing == .chunked && !dechunk { out.text("transfer-encoding: chunked\r\n") }
        if switching {
            out.text("connection: upgrade\r\n")
        } else if closeClient {
            out.text("connection: close\r\n")
        } else if clientMinorVersion == 0 {
            out.text("connection: keep-alive\r\n")
        }
        writeVia(via, received: Self.via, bytes: bytes, to: &out)
        if !hasID {
            out.text("x-request-id: ")
            requestID.write(to: &out)
            out.text("\r\n")
        }
        out.text("\r\n")
    }

    private static func writeVia(_ existing: [Range<Int>], received: StaticString, bytes: UnsafeRawBufferPointer,
                                 to out: inout HeadWriter) {
        out.text("via: ")
        for range in existing {
            out.bytes(bytes, range)
            out.text(", ")
        }
        out.text(received)
        out.text("\r\n")
    }
}

/// Consecutive kept header lines, copied in one write each run. A line that ended with a bare LF
/// is written field by field with a CRLF, so the backend sees only well-formed lines.
private struct LineRun {
    private var start: Int32 = -1
    private var end: Int32 = -1

    @inline(__always)
    mutating func add(_ field: HeaderField, keep: Bool, bytes: UnsafeRawBufferPointer, to out: inout HeadWriter) {
        guard keep else {
            flush(bytes: bytes, to: &out)
            return
        }
        if bytes[Int(field.lineEnd) - 2] != 0x0D {
            flush(bytes: bytes, to: &out)
            out.bytes(bytes, Int(field.lineStart)..<Int(field.valueEnd))
            out.text("\r\n")
            return
        }
        if start < 0 { start = field.lineStart }
        end = field.lineEnd
    }

    @inline(__always)
    mutating func flush(bytes: UnsafeRawBufferPointer, to out: inout HeadWriter) {
        guard start >= 0 else { return }
        out.bytes(bytes, Int(start)..<Int(end))
        start = -1
    }
}
