import NIOCore
import NIOHPACK

/// Reads the HTTP/1.1 response the ``ProxyHandler`` writes for one HTTP/2 stream and turns it into
/// HTTP/2 parts: a header block (`:status`, lower-case names, no connection-specific field —
/// RFC 9113 §8.2.2), body slices de-chunked, and the end of the stream. Reuses the HTTP/1 parsers
/// (`HeadScanner`, `ResponseHead`, `BodyCursor`). Pure: bytes in, parts out.
struct HTTP2ResponseReader {
    enum Part: Equatable {
        /// An interim (1xx) response.
        case informational(HPACKHeaders)
        /// The final response head; `endStream` when no body follows.
        case head(HPACKHeaders, endStream: Bool)
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
        let parsed: (HPACKHeaders, ResponseHead)
        do {
            parsed = try headBytes.withUnsafeReadableBytes { bytes throws(HeadError) in
                let head = try ResponseHead.parse(bytes, requestMethod: requestMethod, limits: limits)
                return (Self.headers(of: head, bytes: bytes), head)
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

    /// The response's fields for HTTP/2: `:status` first, names lower-cased, hop-by-hop and
    /// `Connection`-named fields left out.
    static func headers(of head: ResponseHead, bytes: UnsafeRawBufferPointer) -> HPACKHeaders {
        var headers = HPACKHeaders()
        headers.reserveCapacity(head.headers.count + 1)
        headers.add(name: ":status", value: String(head.status))
        for field in head.headers {
            if field.kind.isHopByHop || head.isConnectionNamed(field, in: bytes) { continue }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[Int(field.lineStart)..<Int(field.nameEnd)]), as: UTF8.self)
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[field.valueRange]), as: UTF8.self)
            let lowercased = name.lowercased()
            headers.add(name: lowercased, value: value, indexing: Self.indexing(of: lowercased))
        }
        return headers
    }

    /// Fields whose value changes with every response are sent as literals, not entered into the
    /// HPACK dynamic table: they would only push out the ones that repeat (`server`,
    /// `content-type`, …), and every field's encoding searches that table.
    static func indexing(of name: String) -> HPACKIndexing {
        switch name {
        case "date", "x-request-id", "content-length", "etag", "last-modified", "expires", "age": .nonIndexable
        case "set-cookie": .neverIndexed
        default: .indexable
        }
    }
}
