import NIOCore

/// Frames an HTTP/2 request body (DATA frames) for the HTTP/1.1 side: as is under a
/// Content-Length (which must match, RFC 9113 §8.1.1), else as chunks. Pure.
struct HTTP2RequestBodyFramer {
    enum Framing: Equatable {
        /// END_STREAM came with the headers.
        case none
        case length(Int)
        case chunked
    }

    enum Failure: Error, Equatable {
        /// More or fewer DATA bytes than the content-length said, or DATA after the end.
        case lengthMismatch
    }

    let framing: Framing
    private var remaining: Int
    private(set) var isComplete: Bool

    init(_ framing: Framing) {
        self.framing = framing
        if case .length(let length) = framing { remaining = length } else { remaining = 0 }
        isComplete = framing == .none
    }

    /// The HTTP/1.1 bytes for one DATA frame's payload (nil: nothing to send).
    mutating func frame(_ data: ByteBuffer, endStream: Bool, allocator: ByteBufferAllocator) throws(Failure) -> ByteBuffer? {
        guard !isComplete else {
            if data.readableBytes == 0 && !endStream { return nil }
            throw .lengthMismatch
        }
        switch framing {
        case .none:
            throw .lengthMismatch
        case .length:
            guard data.readableBytes <= remaining else { throw .lengthMismatch }
            remaining -= data.readableBytes
            if endStream {
                guard remaining == 0 else { throw .lengthMismatch }
                isComplete = true
            }
            return data.readableBytes > 0 ? data : nil
        case .chunked:
            var out = allocator.buffer(capacity: data.readableBytes + 16)
            if data.readableBytes > 0 {
                out.writeString(String(data.readableBytes, radix: 16))
                out.writeStaticString("\r\n")
                out.writeImmutableBuffer(data)
                out.writeStaticString("\r\n")
            }
            if endStream {
                out.writeStaticString("0\r\n\r\n")
                isComplete = true
            }
            return out.readableBytes > 0 ? out : nil
        }
    }

    /// Trailers (HEADERS with END_STREAM) ended the body: the last chunk, if chunked. Trailer
    /// fields are not forwarded.
    mutating func finish(allocator: ByteBufferAllocator) throws(Failure) -> ByteBuffer? {
        try frame(allocator.buffer(capacity: 0), endStream: true, allocator: allocator)
    }
}
