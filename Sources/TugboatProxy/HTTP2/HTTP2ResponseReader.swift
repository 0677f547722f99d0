import NIOCore

/// Reads the HTTP/1.1 response the ``ProxyHandler`` writes for one HTTP/2 stream and turns it into
/// HTTP/2 parts: an HPACK header block (`:status`, lower-case names, no connection-specific field —
/// RFC 9113 §8.2.2) written straight from the head's bytes, body slices de-chunked, and the end of
/// the stream. Reuses the HTTP/1 parsers
/// (`HeadScanner`, `ResponseHead`, `BodyCursor`). Pure: bytes in, parts out.
struct HTTP2ResponseReader {
    enum Part: Equatable {
        /// An interim (1xx) response's header block.
        case informational(ByteBuffer)
        /// The final response's header block; `endStream` when no body follows.
        case head(ByteBuffer, endStream: Bool)
        case body(ByteBuffer)
        /// The body ended (after at least one `.body`, or after a head whose body was empty).
        case end
    }

    struct Failure: Error, Equatable {
        var reason: String
    }

    private enum State {
        case head
        case body(BodyCursor)
        case done
    }

    private let requestMethod: RequestMethod
    private let limits: HeadLimits
    private var state = State.head
    private var pending = ByteBuffer()
    private var scanned = 0

    init(requestMethod: RequestMethod, limits: HeadLimits = HeadLimits()) {
        self.requestMethod = requestMethod
        self.limits = limits
    }

    var isDone: Bool { if case .done = state { true } else { false } }

    /// Takes the next bytes of the response; calls `emit` for each part they complete.
    mutating func read(_ bytes: ByteBuffer, emit: (Part) -> Void) throws(Failure) {
        guard bytes.readableBytes > 0 else { return }
        if pending.readableBytes == 0 {
            pending = bytes
        } else {
            var bytes = bytes
            pending.writeBuffer(&bytes)
        }
        while pending.readableBytes > 0 {
            switch state {
            case .head:
                guard try readHead(emit: emit) else { return }
            case .body(var cursor):
                state = .done  // while the cursor is out
                do {
                    try cursor.takeDechunked(from: &pending) { emit(.body($0)) }
                } catch {
                    throw Failure(reason: "a malformed chunked body (\(error))")
                }
                if cursor.isComplete {
                    emit(.end)
                    state = .done
                } else {
                    state = .body(cursor)
                    if pending.readableBytes > 0 && !cursor.isUntilClose { return }  // a partial chunk line: wait
                }
            case .done:
                // Nothing may follow the response on a stream.
                pending.clear()
                return
            }
        }
        pending = ByteBuffer()
    }

    /// The writer ended without finishing (a body framed by the end of the connection ends here).
    mutating func finish(emit: (Part) -> Void) {
        if case .body(let cursor) = state, cursor.isUntilClose {
            emit(.end)
            state = .done
        }
    }

    private mutating func readHead(emit: (Part) -> Void) throws(Failure) -> Bool {
        guard let length = pending.withUnsafeReadableBytes({ HeadScanner.headLength($0, from: scanned) }) else {
            guard pending.readableBytes <= limits.maxHeadBytes else { throw Failure(reason: "response head too large") }
            scanned = pending.readableBytes
            return false
        }
        scanned = 0
        let headBytes = pending.readSlice(length: length)!
        let parsed: (ByteBuffer, ResponseHead)
        do {
            parsed = try headBytes.withUnsafeReadableBytes { bytes throws(HeadError) in
                let head = try ResponseHead.parse(bytes, requestMethod: requestMethod, limits: limits)
                return (Self.headerBlock(of: head, bytes: bytes, capacity: length), head)
            }
        } catch {
            throw Failure(reason: error.reason)
        }
        let (headers, head) = parsed
        if head.isInformational {
            // 101 cannot happen: the HTTP/2 side never asks to upgrade.
            if head.status != 101 { emit(.informational(headers)) }
            return true
        }
        let cursor = BodyCursor(head.framing)
        if cursor.isComplete {
            emit(.head(headers, endStream: true))
            state = .done
        } else {
            emit(.head(headers, endStream: false))
            state = .body(cursor)
        }
        return true
    }

    /// The response's header block for HTTP/2: `:status` first, names lower-cased, hop-by-hop and
    /// `Connection`-named fields left out, `set-cookie` marked never to be indexed.
    static func headerBlock(of head: ResponseHead, bytes: UnsafeRawBufferPointer, capacity: Int) -> ByteBuffer {
        var block = ByteBufferAllocator().buffer(capacity: capacity)
        HeaderBlockEncoder.writeStatus(head.status, into: &block)
        for field in head.headers {
            if field.kind.isHopByHop || head.isConnectionNamed(field, in: bytes) { continue }
            let name = UnsafeRawBufferPointer(rebasing: bytes[Int(field.lineStart)..<Int(field.nameEnd)])
            let value = UnsafeRawBufferPointer(rebasing: bytes[field.valueRange])
            HeaderBlockEncoder.writeField(name: name, value: value, neverIndexed: name.count == 10 && name.equalsLowercase("set-cookie"), into: &block)
        }
        return block
    }
}
