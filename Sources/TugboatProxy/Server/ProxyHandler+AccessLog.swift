import NIOCore

// Phase 5 (log), the access-log part: when `access-log` is on, the request's method, target (and
// for `combined` its Referer and User-Agent) are copied once into the connection's scratch buffer
// when its head is parsed; when the request ends, one fixed record goes to the loop's batch.
extension ProxyHandler {
    /// A parsed request head: keeps what its log line needs.
    func captureForAccessLog(_ head: RequestHead, headBytes: ByteBuffer) {
        guard let log = loop.accessLog else { return }
        request.logPending = true
        accessLogBytes.clear()
        headBytes.withUnsafeReadableBytes { bytes in
            request.log.method = keep(UnsafeRawBufferPointer(rebasing: bytes[0..<head.methodEnd]))
            request.log.target = keep(UnsafeRawBufferPointer(rebasing: bytes[head.targetStart..<head.targetEnd]))
            guard log.capturesAgentHeaders else { return }
            for field in head.headers {
                let name = UnsafeRawBufferPointer(rebasing: bytes[Int(field.lineStart)..<Int(field.nameEnd)])
                if name.count == 7 && name.equalsLowercase("referer") {
                    request.log.referer = keep(UnsafeRawBufferPointer(rebasing: bytes[field.valueRange]))
                } else if name.count == 10 && name.equalsLowercase("user-agent") {
                    request.log.userAgent = keep(UnsafeRawBufferPointer(rebasing: bytes[field.valueRange]))
                }
            }
        }
        request.log.protocolVersion = forwarding.http2 ? .http2 : head.minorVersion == 0 ? .http10 : .http11
    }

    /// A head refused before it was parsed (or that could not be): its first line, split at
    /// spaces as well as it goes, stands for method, target and protocol.
    func captureRefusedHead(_ bytes: ByteBuffer) {
        guard loop.accessLog != nil, !request.logPending else { return }
        request.logPending = true
        request.startedAt = loop.eventLoop.now
        accessLogBytes.clear()
        bytes.withUnsafeReadableBytes { bytes in
            let line = RequestLineGuess(bytes)
            request.log.method = keep(line.method)
            request.log.target = keep(line.target)
            request.log.protocolVersion = forwarding.http2 ? .http2 : line.protocolVersion
        }
    }

    /// The request ended with `status` (one line per request; later calls do nothing).
    func logRequest(status: Int) {
        guard request.logPending, let log = loop.accessLog else { return }
        request.logPending = false
        var record = request.log
        record.status = UInt16(clamping: status)
        record.startNanos = log.wallNanos(request.startedAt)
        record.totalNanos = (loop.eventLoop.now - request.startedAt).nanoseconds
        record.upstream = request.meteredBackend?.address
        record.retries = UInt16(clamping: max(0, request.tried.count - 1))
        record.client = forwarding.clientIP.withUnsafeBytes { keep($0) }
        if !isNoRequestID {
            let start = accessLogBytes.writerIndex
            request.requestID.write(into: &accessLogBytes)
            record.requestID = ArenaSpan(start: UInt32(start), count: UInt32(accessLogBytes.writerIndex - start))
        }
        log.append(record, bytes: accessLogBytes)
    }

    /// A refused head gets no `X-Request-Id`, so its line names none.
    private var isNoRequestID: Bool {
        if case .generated(let id) = request.requestID, id.counter == 0 { return true }
        return false
    }

    /// The client left (or the stream was reset) before its request ended: 499 as nginx logs it
    /// when no response had started, else the status that was being sent.
    func logUnfinishedRequest() {
        logRequest(status: request.status != 0 ? request.status : 499)
    }

    private func keep(_ bytes: UnsafeRawBufferPointer) -> ArenaSpan {
        guard !bytes.isEmpty else { return ArenaSpan() }
        let start = accessLogBytes.writerIndex
        accessLogBytes.writeBytes(bytes)
        return ArenaSpan(start: UInt32(start), count: UInt32(bytes.count))
    }
}

/// The first line of a refused request head, split at its first and last space: method, target and
/// protocol as far as they can be told (each capped, so a huge line stays a short log line).
struct RequestLineGuess {
    var method = UnsafeRawBufferPointer(start: nil, count: 0)
    var target = UnsafeRawBufferPointer(start: nil, count: 0)
    var protocolVersion = AccessLogProtocol.unknown

    static let maxMethod = 32
    static let maxTarget = 2048

    init(_ bytes: UnsafeRawBufferPointer) {
        var start = 0
        while start < bytes.count, bytes[start] == 0x0D || bytes[start] == 0x0A { start += 1 }
        var end = start
        while end < bytes.count, bytes[end] != 0x0A, bytes[end] != 0x0D, end - start < Self.maxTarget + Self.maxMethod + 16 { end += 1 }
        let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        guard !line.isEmpty else { return }
        guard let firstSpace = line.firstIndex(of: 0x20) else {
            method = UnsafeRawBufferPointer(rebasing: line.prefix(Self.maxMethod))
            return
        }
        method = UnsafeRawBufferPointer(rebasing: line[0..<min(firstSpace, Self.maxMethod)])
        var targetEnd = line.count
        if let lastSpace = line.lastIndex(of: 0x20), lastSpace > firstSpace {
            let version = UnsafeRawBufferPointer(rebasing: line[(lastSpace + 1)...])
            if version.elementsEqual("HTTP/1.1".utf8) {
                protocolVersion = .http11
                targetEnd = lastSpace
            } else if version.elementsEqual("HTTP/1.0".utf8) {
                protocolVersion = .http10
                targetEnd = lastSpace
            }
        }
        let targetStart = firstSpace + 1
        target = UnsafeRawBufferPointer(rebasing: line[targetStart..<max(targetStart, min(targetEnd, targetStart + Self.maxTarget))])
    }
}
