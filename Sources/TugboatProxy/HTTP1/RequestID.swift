import NIOCore

/// A generated `X-Request-Id`: a random per-loop prefix and a counter, written as hex straight
/// into the head being built (no string per request).
struct RequestID {
    let prefix: UInt64
    let counter: UInt64

    func write(into out: inout ByteBuffer) {
        out.writeHex(prefix)
        out.writeInteger(UInt8(ascii: "-"))
        out.writeHex(counter)
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

    var text: String {
        switch self {
        case .client(let value): return String(buffer: value)
        case .generated(let id): return id.text
        }
    }
}

extension ByteBuffer {
    /// Lowercase hex without leading zeros, in one write.
    @inline(__always)
    mutating func writeHex(_ value: UInt64) {
        let digits = value == 0 ? 1 : (67 - value.leadingZeroBitCount) / 4
        var text: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &text) { raw in
            var rest = value
            for index in stride(from: digits - 1, through: 0, by: -1) {
                let nibble = UInt8(truncatingIfNeeded: rest & 0xF)
                raw[index] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
                rest >>= 4
            }
            writeBytes(UnsafeRawBufferPointer(rebasing: raw[0..<digits]))
        }
    }
}
