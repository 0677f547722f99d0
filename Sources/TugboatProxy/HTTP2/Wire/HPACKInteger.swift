/// HPACK's prefixed integers (RFC 7541 §5.1). Reading them needs nothing but the bytes (the
/// HPACK fuzz target compiles the decoder's files alone); writing them is `HeaderBlockEncoder`'s.
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
            // Four continuation bytes carry 28 bits: a fifth can only overflow (or, shifted far
            // enough, wrap negative — found by the fuzzer).
            guard shift <= 21 else { return nil }
            let byte = Int(bytes[position])
            position += 1
            value += (byte & 0x7F) << shift
            guard value <= maximum else { return nil }
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
