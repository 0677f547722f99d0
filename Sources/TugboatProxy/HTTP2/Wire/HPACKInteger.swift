import NIOCore

/// HPACK's prefixed integers (RFC 7541 §5.1).
enum HPACKInteger {
    /// Values above this are refused: no table size, string length or index we accept comes near it,
    /// and it keeps the arithmetic far from overflow.
    static let maximum = 1 << 28

    /// Reads an integer whose first byte is `bytes[position]` with a `prefixBits`-bit prefix;
    /// advances `position`. nil: the input ends first, or the value is above ``maximum``.
    static func decode(_ bytes: UnsafeRawBufferPointer, at position: inout Int, prefixBits: Int) -> Int? {
        guard position < bytes.count else { return nil }
        let mask = (1 << prefixBits) - 1
        var value = Int(bytes[position]) & mask
        position += 1
        guard value == mask else { return value }
        var shift = 0
        while position < bytes.count {
            let byte = Int(bytes[position])
            position += 1
            value += (byte & 0x7F) << shift
            guard value <= maximum else { return nil }
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    /// Appends `value` with a `prefixBits`-bit prefix; `flags` are the first byte's bits above it.
    static func encode(_ value: Int, prefixBits: Int, flags: UInt8, into output: inout ByteBuffer) {
        let mask = (1 << prefixBits) - 1
        if value < mask {
            output.writeInteger(flags | UInt8(value))
            return
        }
        output.writeInteger(flags | UInt8(mask))
        var rest = value - mask
        while rest >= 0x80 {
            output.writeInteger(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        output.writeInteger(UInt8(rest))
    }
}
