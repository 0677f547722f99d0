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
        out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<head.targetEnd]))
        out.writeStaticString(" HTTP/1.1\r\n")
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
            run.add(field, keep: keep, bytes: bytes, into: &out)
        }
        run.flush(bytes: bytes, into: &out)
        if head.isUpgrade { out.writeStaticString("connection: upgrade\r\n") }
        out.writeStaticString("x-forwarded-for: ")
        for range in forwardedFor {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[range]))
            out.writeStaticString(", ")
        }
        out.writeBytes(context.clientIP)
        out.writeStaticString("\r\n")
        if !keptProto { out.writeStaticString(context.https ? "x-forwarded-proto: https\r\n" : "x-forwarded-proto: http\r\n") }
        if !keptHost, let host = head.hostIndex {
            out.writeStaticString("x-forwarded-host: ")
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[head.headers[host].valueRange]))
            out.writeStaticString("\r\n")
        }
        writeVia(via, received: context.http2 ? "2 tugboat" : head.minorVersion == 0 ? "1.0 tugboat" : Self.via,
                 bytes: bytes, into: &out)
        if requestID == nil {
            out.writeStaticString("x-request-id: ")
            context.generatedID.write(into: &out)
            out.writeStaticString("\r\n")
        }
        switch head.framing {
        case .length(let length):
            out.writeStaticString("content-length: ")
            out.writeDecimal(length)
            out.writeStaticString("\r\n")
        case .chunked:
            out.writeStaticString("transfer-encoding: chunked\r\n")
        case .none, .untilClose:
            break
        }
        out.writeStaticString("\r\n")
        return requestID
    }

    /// The response head for the client, in the client's HTTP version.
    static func response(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, clientMinorVersion: Int,
                         closeClient: Bool, dechunk: Bool, requestID: RequestIDSource,
                         into out: inout ByteBuffer) {
        out.writeStaticString(clientMinorVersion == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[head.statusStart..<head.statusLineEnd]))
        if bytes[head.statusLineEnd - 2] != 0x0D {
            // The backend ended its status line with a bare LF: end it properly.
            out.moveWriterIndex(to: out.writerIndex - 1)
            out.writeStaticString("\r\n")
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
            run.add(field, keep: keep, bytes: bytes, into: &out)
        }
        run.flush(bytes: bytes, into: &out)
        if head.framing == .chunked && !dechunk { out.writeStaticString("transfer-encoding: chunked\r\n") }
        if switching {
            out.writeStaticString("connection: upgrade\r\n")
        } else if closeClient {
            out.writeStaticString("connection: close\r\n")
        } else if clientMinorVersion == 0 {
            out.writeStaticString("connection: keep-alive\r\n")
        }
        writeVia(via, received: Self.via, bytes: bytes, into: &out)
        if !hasID {
            out.writeStaticString("x-request-id: ")
            requestID.write(into: &out)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
    }

    private static func writeVia(_ existing: [Range<Int>], received: StaticString, bytes: UnsafeRawBufferPointer,
                                 into out: inout ByteBuffer) {
        out.writeStaticString("via: ")
        for range in existing {
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[range]))
            out.writeStaticString(", ")
        }
        out.writeStaticString(received)
        out.writeStaticString("\r\n")
    }
}

/// Consecutive kept header lines, copied in one write each run. A line that ended with a bare LF
/// is written field by field with a CRLF, so the backend sees only well-formed lines.
private struct LineRun {
    private var start: Int32 = -1
    private var end: Int32 = -1

    @inline(__always)
    mutating func add(_ field: HeaderField, keep: Bool, bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        guard keep else {
            flush(bytes: bytes, into: &out)
            return
        }
        if bytes[Int(field.lineEnd) - 2] != 0x0D {
            flush(bytes: bytes, into: &out)
            out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[Int(field.lineStart)..<Int(field.valueEnd)]))
            out.writeStaticString("\r\n")
            return
        }
        if start < 0 { start = field.lineStart }
        end = field.lineEnd
    }

    @inline(__always)
    mutating func flush(bytes: UnsafeRawBufferPointer, into out: inout ByteBuffer) {
        guard start >= 0 else { return }
        out.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[Int(start)..<Int(end)]))
        start = -1
    }
}

extension ByteBuffer {
    @inline(__always)
    mutating func writeDecimal(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 24 digits
        var count = 0
        var rest = UInt(max(0, value))
        withUnsafeMutableBytes(of: &digits) { raw in
            repeat {
                raw[23 - count] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            writeBytes(UnsafeRawBufferPointer(rebasing: raw[(24 - count)..<24]))
        }
    }
}
