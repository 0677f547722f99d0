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
        emitHead(head, block: headers, emit: emit)
        return true
    }

    /// A head the handler has parsed already (the common path): its header block is written
    /// straight from the backend's head with what the HTTP/1.1 path adds to a response (`via`,
    /// and `x-request-id` when the backend sent none), no HTTP/1.1 text in between. Bytes that
    /// follow are the body (as the backend framed it).
    /// The block is written into `spare`'s storage and handed back in it once emitted (the
    /// connection copies a header block into its outgoing frames at once).
    mutating func acceptHead(_ head: ResponseHead, bytes: UnsafeRawBufferPointer, requestID: ByteBuffer,
                             reusing spare: inout ByteBuffer, emit: (Part) -> Void) {
        guard case .head = state, pending.readableBytes == 0 else { return }
        let block = Self.headerBlock(of: head, bytes: bytes, capacity: bytes.count + 64, reusing: &spare, forwarding: requestID)
        emitHead(head, block: block, emit: emit)
        spare = block
    }

    private mutating func emitHead(_ head: ResponseHead, block: ByteBuffer, emit: (Part) -> Void) {
        if head.isInformational {
            // 101 cannot happen: the HTTP/2 side never asks to upgrade.
            if head.status != 101 { emit(.informational(block)) }
            return
        }
        let cursor = BodyCursor(head.framing)
        if cursor.isComplete {
            emit(.head(block, endStream: true))
            state = .done
        } else {
            emit(.head(block, endStream: false))
            state = .body(cursor)
        }
    }

    /// The response's header block for HTTP/2: `:status` first, names lower-cased, hop-by-hop and
    /// `Connection`-named fields left out, `set-cookie` marked never to be indexed. With
    /// `forwarding` (the request's id), the backend's own head: `via` gains Tugboat's hop as
    /// `ForwardedHeads.response` does, and the id is added unless the backend sent one.
    static func headerBlock(of head: ResponseHead, bytes: UnsafeRawBufferPointer, capacity: Int, forwarding requestID: ByteBuffer? = nil) -> ByteBuffer {
        var spare = ByteBuffer()
        return headerBlock(of: head, bytes: bytes, capacity: capacity, reusing: &spare, forwarding: requestID)
    }

    /// The same, written into `spare`'s storage (taken: `spare` is left empty).
    static func headerBlock(of head: ResponseHead, bytes: UnsafeRawBufferPointer, capacity: Int, reusing spare: inout ByteBuffer,
                            forwarding requestID: ByteBuffer? = nil) -> ByteBuffer {
        var block = spare
        spare = ByteBuffer()
        // Room for `:status` and every field at once: each field's name and value are bytes of
        // the head's, so the head's size and a field's fixed overhead bound them all.
        let bound = HeaderBlockEncoder.RawWriter.statusBound + bytes.count + head.headers.count * HeaderBlockEncoder.RawWriter.fieldBound(name: 0, value: 0)
        block.clear(minimumCapacity: max(capacity, bound))
        var via: [Range<Int>] = []
        var hasID = false
        block.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { target in
            var writer = HeaderBlockEncoder.RawWriter(target)
            writer.status(head.status)
            for field in head.headers {
                if field.kind.isHopByHop || head.isConnectionNamed(field, in: bytes) { continue }
                if requestID != nil {
                    if field.kind == .via {
                        via.append(field.valueRange)
                        continue
                    }
                    if field.kind == .xRequestID { hasID = true }
                }
                let name = UnsafeRawBufferPointer(rebasing: bytes[Int(field.lineStart)..<Int(field.nameEnd)])
                let value = UnsafeRawBufferPointer(rebasing: bytes[field.valueRange])
                writer.field(name: name, value: value, neverIndexed: name.count == 10 && name.equalsLowercase("set-cookie"))
            }
            return writer.count
        }
        guard let requestID else { return block }
        let hop = UnsafeRawBufferPointer(start: ForwardedHeads.via.utf8Start, count: ForwardedHeads.via.utf8CodeUnitCount)
        if via.isEmpty {
            write("via", hop, into: &block)
        } else {
            var value: [UInt8] = []
            for range in via { value += UnsafeRawBufferPointer(rebasing: bytes[range]) + Array(", ".utf8) }
            value += hop
            value.withUnsafeBytes { write("via", $0, into: &block) }
        }
        if !hasID {
            requestID.withUnsafeReadableBytes { write("x-request-id", $0, into: &block) }
        }
        return block
    }

    private static func write(_ name: StaticString, _ value: UnsafeRawBufferPointer, into block: inout ByteBuffer) {
        HeaderBlockEncoder.writeField(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: value, into: &block)
    }
}
