import NIOCore

/// Writes a head into a buffer's spare room through a raw pointer: the room for the whole head is
/// made once (the caller's bound on its size), then each piece is a plain copy. A `ByteBuffer`
/// write checks capacity, uniqueness and exclusivity on every call, and a forwarded head is 15 to
/// 30 of them. Every piece is still checked against the room made (a trap, never a write past
/// it), so a wrong bound is a bug found, not memory overwritten.
struct HeadWriter {
    private let base: UnsafeMutableRawPointer
    private let room: Int
    private(set) var count = 0

    private init(base: UnsafeMutableRawPointer, room: Int) {
        self.base = base
        self.room = room
    }

    /// Makes room for at least `bound` bytes at `buffer`'s writer index, lets `body` write, and
    /// moves the writer index past what it wrote.
    @inline(__always)
    static func write(into buffer: inout ByteBuffer, bound: Int, _ body: (inout HeadWriter) -> Void) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { raw in
            var writer = HeadWriter(base: raw.baseAddress!, room: raw.count)
            body(&writer)
            return writer.count
        }
    }

    @inline(__always)
    private mutating func claim(_ length: Int) -> UnsafeMutableRawPointer {
        precondition(length <= room - count, "a head outgrew the room made for it")
        let start = base + count
        count += length
        return start
    }

    @inline(__always)
    mutating func bytes(_ source: UnsafeRawBufferPointer) {
        guard let start = source.baseAddress, source.count > 0 else { return }
        claim(source.count).copyMemory(from: start, byteCount: source.count)
    }

    /// `source[range]`.
    @inline(__always)
    mutating func bytes(_ source: UnsafeRawBufferPointer, _ range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= source.count)
        guard !range.isEmpty else { return }
        claim(range.count).copyMemory(from: source.baseAddress! + range.lowerBound, byteCount: range.count)
    }

    @inline(__always)
    mutating func bytes(_ source: [UInt8]) {
        source.withUnsafeBytes { bytes($0) }
    }

    @inline(__always)
    mutating func text(_ literal: StaticString) {
        claim(literal.utf8CodeUnitCount).copyMemory(from: literal.utf8Start, byteCount: literal.utf8CodeUnitCount)
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        claim(1).storeBytes(of: value, as: UInt8.self)
    }

    /// `value` in decimal (negative values as 0).
    mutating func decimal(_ value: Int) {
        var rest = UInt(max(0, value))
        var digits = 1
        var scale: UInt = 10
        while digits < 20, rest >= scale {
            digits += 1
            scale = scale &* 10
        }
        let start = claim(digits)
        for index in stride(from: digits - 1, through: 0, by: -1) {
            start.storeBytes(of: UInt8(truncatingIfNeeded: 0x30 + rest % 10), toByteOffset: index, as: UInt8.self)
            rest /= 10
        }
    }

    /// Lowercase hex without leading zeros. All sixteen digits are made at once in two words
    /// (each nibble spread to a byte, then shifted into '0'...'9' or 'a'...'f') and the
    /// significant ones copied.
    mutating func hex(_ value: UInt64) {
        let digits = value == 0 ? 1 : (67 - value.leadingZeroBitCount) / 4
        var text = (Self.hexDigits(UInt32(truncatingIfNeeded: value >> 32)), Self.hexDigits(UInt32(truncatingIfNeeded: value)))
        withUnsafeBytes(of: &text) { raw in
            claim(digits).copyMemory(from: raw.baseAddress! + (16 - digits), byteCount: digits)
        }
    }

    /// The eight hex digits of `value`, most significant first in memory.
    @inline(__always)
    static func hexDigits(_ value: UInt32) -> UInt64 {
        var spread = UInt64(value)
        spread = (spread | spread << 16) & 0x0000_FFFF_0000_FFFF
        spread = (spread | spread << 8) & 0x00FF_00FF_00FF_00FF
        spread = (spread | spread << 4) & 0x0F0F_0F0F_0F0F_0F0F  // nibble i (from the least significant) in byte i
        // Bytes holding 10...15 get 0x27 more ('a' - '0' - 10).
        let letters = ((spread &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101
        let ascii = spread &+ 0x3030_3030_3030_3030 &+ letters &* 0x27
        return ascii.bigEndian  // in memory: the most significant digit first
    }
}

extension ByteBuffer {
    /// `value` in decimal, in one write.
    mutating func writeDecimal(_ value: Int) {
        HeadWriter.write(into: &self, bound: 20) { $0.decimal(value) }
    }
}
