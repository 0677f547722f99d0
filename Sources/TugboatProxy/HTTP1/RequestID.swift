import NIOCore

/// A generated `X-Request-Id`: a random per-loop prefix and a counter, written as hex straight
/// into the head being built (no string per request).
struct RequestID {
    let prefix: UInt64
    let counter: UInt64

    /// The longest an id is written: two 16-digit hex numbers and a dash.
    static let maxLength = 33

    func write(to writer: inout HeadWriter) {
        writer.hex(prefix)
        writer.byte(UInt8(ascii: "-"))
        writer.hex(counter)
    }

    func write(into out: inout ByteBuffer) {
        HeadWriter.write(into: &out, bound: Self.maxLength) { write(to: &$0) }
    }

    var text: String {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return String(buffer: buffer)
    }
}

/// Hands out request ids on one event loop.
struct RequestIDGenerator {
    private let prefix = UInt64.random(in: 1...UInt64.max)
    private var counter: UInt64 = 0

    mutating func next() -> RequestID {
        counter &+= 1
        return RequestID(prefix: prefix, counter: counter)
    }
}

/// Where the id echoed to the client comes from: the client's own header, or the generated one.
enum RequestIDSource {
    case client(ByteBuffer)
    case generated(RequestID)

    func write(into out: inout ByteBuffer) {
        switch self {
        case .client(let value): out.writeImmutableBuffer(value)
        case .generated(let id): id.write(into: &out)
        }
    }

    func write(to writer: inout HeadWriter) {
        switch self {
        case .client(let value): value.withUnsafeReadableBytes { writer.bytes($0) }
        case .generated(let id): id.write(to: &writer)
        }
    }

    /// The most bytes ``write(to:)`` writes.
    var maxLength: Int {
        switch self {
        case .client(let value): return value.readableBytes
        case .generated: return RequestID.maxLength
        }
    }

    var text: String {
        switch self {
        case .client(let value): return String(buffer: value)
        case .generated(let id): return id.text
        }
    }
}
