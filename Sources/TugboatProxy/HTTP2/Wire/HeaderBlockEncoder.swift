import NIOCore

/// Writes response header blocks (RFC 7541) without touching a dynamic table: `:status` from the
/// static table when it is there, every other field a literal "without indexing" (or "never
/// indexed" for `set-cookie`), named by its static-table index when it has one, names lower-cased
/// on the way (RFC 9113 §8.2). Strings go raw, not Huffman-coded: on the links Tugboat serves the
/// bytes saved cost more CPU than they are worth. Nothing is ever added to the client's dynamic
/// table, so there is no encoder state to keep.
enum HeaderBlockEncoder {
    static func writeStatus(_ status: Int, into output: inout ByteBuffer) {
        let index: Int? = switch status {
        case 200: 8
        case 204: 9
        case 206: 10
        case 304: 11
        case 400: 12
        case 404: 13
        case 500: 14
        default: nil
        }
        if let index {
            HPACKInteger.encode(index, prefixBits: 7, flags: 0x80, into: &output)
            return
        }
        HPACKInteger.encode(8, prefixBits: 4, flags: 0x00, into: &output)
        output.writeInteger(UInt8(3))
        output.writeInteger(UInt8(0x30 + status / 100 % 10))
        output.writeInteger(UInt8(0x30 + status / 10 % 10))
        output.writeInteger(UInt8(0x30 + status % 10))
    }

    /// One field; `name` in any case (written lower-case), `value` as it is.
    static func writeField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, neverIndexed: Bool = false, into output: inout ByteBuffer) {
        let flags: UInt8 = neverIndexed ? 0x10 : 0x00
        if let index = HPACKStaticTable.index(ofName: name) {
            HPACKInteger.encode(index, prefixBits: 4, flags: flags, into: &output)
        } else {
            output.writeInteger(flags)
            HPACKInteger.encode(name.count, prefixBits: 7, flags: 0, into: &output)
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: name.count) { target in
                for offset in 0..<name.count { target[offset] = HPACKStaticTable.lowercased(name[offset]) }
                return name.count
            }
        }
        HPACKInteger.encode(value.count, prefixBits: 7, flags: 0, into: &output)
        output.writeBytes(value)
    }
}

extension HPACKInteger {
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
