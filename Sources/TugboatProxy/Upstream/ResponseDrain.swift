import NIOCore

/// The rest of a response whose client is gone (an HTTP/2 stream cancelled, a connection closed
/// mid-request), read and thrown away so that its upstream connection can serve the next request
/// instead of being closed — as HAProxy keeps a server connection when the client aborts
/// (without `option abortonclose`). Closing it costs the backend a new connection (a TCP and, over
/// `pool.tls`, a TLS handshake) and, for a backend such as nginx that accepts one connection per
/// turn of its loop, queues the requests that follow behind the accepts.
///
/// Only a response that will end well within bounds is read: at most ``maxBytes`` in all (Go's
/// HTTP server reads that much of an unread request body for the same reason); a body that ends
/// only with the connection, a protocol switch, anything malformed or bytes after the response
/// end it, and the connection is closed. So does ``patience`` running out (the caller's timer, or
/// the request's own deadline if sooner): a slow backend's work is still cancelled soon, as a
/// rapid reset's (CVE-2023-44487) must be — each client connection may leave only its reset
/// allowance of responses draining, each for at most this long.
/// Pure: fed bytes, it says what to do with the connection.
struct ResponseDrain {
    enum Step: Equatable {
        /// The response is not over: read more.
        case needMore
        /// The response is over and the connection can carry another request.
        case reusable
        /// The connection cannot be reused (or it is not worth reading on): close it.
        case close
    }

    static let maxBytes = 256 * 1024
    /// How long an abandoned response may take to end before its connection is closed.
    static let patience = TimeAmount.seconds(1)

    private let requestMethod: RequestMethod
    private var headDone: Bool
    private var body: BodyCursor
    private var keepAlive: Bool
    /// How far a head that has not ended yet was scanned (``HeadScanner/headLength(_:from:)``).
    private var scanned: Int
    /// Bytes read and thrown away so far.
    private(set) var drained = 0

    /// Nothing of the response has been relayed: its head is still to be read (`scanned` bytes of
    /// it were scanned already).
    init(requestMethod: RequestMethod, scanned: Int = 0) {
        self.requestMethod = requestMethod
        headDone = false
        body = BodyCursor(.none)
        keepAlive = false
        self.scanned = scanned
    }

    /// The head was relayed and part of the body: the rest of `body` is to be read. (Only a head
    /// that kept the connection alive gets here: one that asked to close is closed at once.)
    init(requestMethod: RequestMethod, body: BodyCursor) {
        self.requestMethod = requestMethod
        headDone = true
        self.body = body
        keepAlive = true
        scanned = 0
    }

    /// Reads what it can of `buffer` (the bytes the backend sent since the last call, after any
    /// left over from before).
    mutating func consume(_ buffer: inout ByteBuffer, limits: HeadLimits, fields: inout [HeaderField]) -> Step {
        while !headDone {
            guard let length = buffer.withUnsafeReadableBytes({ HeadScanner.headLength($0, from: scanned) }) else {
                if buffer.readableBytes > limits.maxHeadBytes { return .close }
                scanned = buffer.readableBytes
                return .needMore
            }
            guard length <= limits.maxHeadBytes, drained + length <= Self.maxBytes else { return .close }
            scanned = 0
            let headBytes = buffer.readSlice(length: length)!
            drained += length
            let parsed = headBytes.withUnsafeReadableBytes { bytes -> ResponseHead? in
                try? ResponseHead.parse(bytes, requestMethod: requestMethod, limits: limits, reusing: &fields)
            }
            guard let head = parsed else { return .close }
            fields = head.headers
            if head.status == 101 { return .close }
            if head.isInformational { continue }
            headDone = true
            keepAlive = head.keepAlive
            body = BodyCursor(head.framing)
        }
        return consumeBody(&buffer)
    }

    private mutating func consumeBody(_ buffer: inout ByteBuffer) -> Step {
        if body.isUntilClose { return .close }
        if let remaining = body.remainingLength, drained + remaining > Self.maxBytes { return .close }
        do {
            while let slice = try body.take(from: &buffer) {
                drained += slice.readableBytes
                if drained > Self.maxBytes { return .close }
            }
        } catch {
            return .close
        }
        guard body.isComplete else { return .needMore }
        // Bytes beyond the response: the backend is confused (as when relaying, never reused).
        return keepAlive && buffer.readableBytes == 0 ? .reusable : .close
    }
}
