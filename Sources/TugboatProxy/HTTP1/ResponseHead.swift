/// A parsed response head from a backend: offsets into its bytes and the framing the proxy
/// decided (RFC 9112 §6.3). Anything ambiguous is an error: the client gets 502 and the upstream
/// connection is closed, never reused.
struct ResponseHead {
    var status = 0
    /// Where the status code starts (the status line is re-written from here with the client's version).
    var statusStart = 0
    var statusLineEnd = 0
    var minorVersion = 1
    var headers: [HeaderField] = []
    var framing: BodyFraming = .none
    var keepAlive = true
    var connectionNamed: [Range<Int>] = []

    var isInformational: Bool { status < 200 }

    /// `requestMethod` matters: the answer to HEAD has no body whatever its headers say.
    static func parse(_ bytes: UnsafeRawBufferPointer, requestMethod: RequestMethod,
                      limits: HeadLimits = HeadLimits(), reusing storage: inout [HeaderField]) throws(HeadError) -> ResponseHead {
        var head = ResponseHead()
        swap(&head.headers, &storage)
        head.headers.removeAll(keepingCapacity: true)
        head.headers.reserveCapacity(16)
        try head.parseStatusLine(bytes)
        try HeadScanner.headers(bytes, from: head.statusLineEnd, limits: limits, into: &head.headers)
        try head.interpretHeaders(bytes, requestMethod: requestMethod)
        return head
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, requestMethod: RequestMethod,
                      limits: HeadLimits = HeadLimits()) throws(HeadError) -> ResponseHead {
        var storage: [HeaderField] = []
        return try parse(bytes, requestMethod: requestMethod, limits: limits, reusing: &storage)
    }

    private mutating func parseStatusLine(_ bytes: UnsafeRawBufferPointer) throws(HeadError) {
        let (end, next) = try HeadScanner.line(bytes, from: 0)
        // "HTTP/1.x 200" then an optional " reason".
        guard end >= 12, HeadScanner.startsWithHTTPSlash(bytes, at: 0), bytes[5] == 0x31, bytes[6] == 0x2E,
              bytes[7] == 0x30 || bytes[7] == 0x31, bytes[8] == 0x20,
              bytes[9] &- 0x30 < 10, bytes[10] &- 0x30 < 10, bytes[11] &- 0x30 < 10,
              end == 12 || bytes[12] == 0x20 else {
            throw .malformed("invalid status line")
        }
        for index in 12..<end where !HeadScanner.isValueByte(bytes[index]) { throw .malformed("control byte in the reason phrase") }
        minorVersion = Int(bytes[7] - 0x30)
        status = Int(bytes[9] - 0x30) * 100 + Int(bytes[10] - 0x30) * 10 + Int(bytes[11] - 0x30)
        guard status >= 100 else { throw .malformed("invalid status code") }
        statusStart = 9
        statusLineEnd = next
    }

    private mutating func interpretHeaders(_ bytes: UnsafeRawBufferPointer, requestMethod: RequestMethod) throws(HeadError) {
        var fields = FramingFields()
        for field in headers { _ = try fields.add(field, bytes: bytes) }
        keepAlive = fields.keepAlive(minorVersion: minorVersion)
        connectionNamed = fields.connectionNamed
        let contentLength = fields.contentLength
        let sawTransferEncoding = fields.sawTransferEncoding
        if sawTransferEncoding && contentLength != nil { throw .malformed("both Content-Length and Transfer-Encoding") }
        if status < 200 || status == 204 || status == 304 || requestMethod == .head {
            framing = .none
        } else if sawTransferEncoding {
            // Only plain chunked is relayed: other codings would reach the client without their header.
            guard fields.isSingleFinalChunked else {
                throw .malformed("unsupported Transfer-Encoding")
            }
            framing = .chunked
        } else if let contentLength {
            framing = contentLength > 0 ? .length(contentLength) : .none
        } else {
            framing = .untilClose
            keepAlive = false
        }
    }

    func isConnectionNamed(_ field: HeaderField, in bytes: UnsafeRawBufferPointer) -> Bool {
        FramingFields.names(connectionNamed, include: field, in: bytes)
    }
}
