import NIOCore

/// Writes response header blocks (RFC 7541) without touching a dynamic table: `:status` from the
/// static table when it is there, every other field a literal "without indexing" (or "never
/// indexed" for `set-cookie`), named by its static-table index when it has one, names lower-cased
/// on the way (RFC 9113 §8.2). Strings go raw, not Huffman-coded: on the links Tugboat serves the
/// bytes saved cost more CPU than they are worth. Nothing is ever added to the client's dynamic
/// table, so there is no encoder state to keep. Each field is written in one pass over raw memory.
enum HeaderBlockEncoder {
    static func writeStatus(_ status: Int, into output: inout ByteBuffer) {
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: RawWriter.statusBound) { target in
            var writer = RawWriter(target)
            writer.status(status)
            return writer.count
        }
    }

    /// One field; `name` in any case (written lower-case), `value` as it is.
    static func writeField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, neverIndexed: Bool = false, into output: inout ByteBuffer) {
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: RawWriter.fieldBound(name: name.count, value: value.count)) { target in
            var writer = RawWriter(target)
            writer.field(name: name, value: value, neverIndexed: neverIndexed)
            return writer.count
        }
    }

    /// Appends to memory made large enough once for a whole block (``statusBound``, ``fieldBound``
    /// each): each piece checks that its bound fits what is left, and traps rather than write
    /// past it.
    struct RawWriter {
        /// `:status`: an index, or a literal with a three-digit value.
        static let statusBound = 5
        /// Flags and index (at most 5 bytes), the name's length (5) and bytes, the value's length (5) and bytes.
        @inline(__always)
        static func fieldBound(name: Int, value: Int) -> Int { 15 + name + value }

        let base: UnsafeMutableRawPointer
        let capacity: Int
        private(set) var count = 0

        init(_ target: UnsafeMutableRawBufferPointer) {
            base = target.baseAddress!
            capacity = target.count
        }

        mutating func status(_ status: Int) {
            precondition(capacity - count >= Self.statusBound, "header block bound")
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
                integer(index, prefixBits: 7, flags: 0x80)
            } else {
                integer(8, prefixBits: 4, flags: 0x00)
                byte(3)
                byte(UInt8(truncatingIfNeeded: 0x30 + status / 100 % 10))
                byte(UInt8(truncatingIfNeeded: 0x30 + status / 10 % 10))
                byte(UInt8(truncatingIfNeeded: 0x30 + status % 10))
            }
        }

        mutating func field(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, neverIndexed: Bool) {
            precondition(capacity - count >= Self.fieldBound(name: name.count, value: value.count), "header block bound")
            let flags: UInt8 = neverIndexed ? 0x10 : 0x00
            if let index = HPACKStaticTable.index(ofName: name) {
                integer(index, prefixBits: 4, flags: flags)
            } else {
                byte(flags)
                integer(name.count, prefixBits: 7, flags: 0)
                lowercased(name)
            }
            integer(value.count, prefixBits: 7, flags: 0)
            bytes(value)
        }

        @inline(__always)
        private mutating func byte(_ value: UInt8) {
            base.storeBytes(of: value, toByteOffset: count, as: UInt8.self)
            count += 1
        }

        /// HPACK's prefixed integer (RFC 7541 §5.1); `flags` are the first byte's bits above the prefix.
        @inline(__always)
        private mutating func integer(_ value: Int, prefixBits: Int, flags: UInt8) {
            let mask = (1 << prefixBits) - 1
            guard value >= mask else {
                byte(flags | UInt8(truncatingIfNeeded: value))
                return
            }
            byte(flags | UInt8(truncatingIfNeeded: mask))
            var rest = value - mask
            while rest >= 0x80 {
                byte(UInt8(truncatingIfNeeded: rest & 0x7F) | 0x80)
                rest >>= 7
            }
            byte(UInt8(truncatingIfNeeded: rest))
        }

        private mutating func bytes(_ source: UnsafeRawBufferPointer) {
            guard let start = source.baseAddress, source.count > 0 else { return }
            (base + count).copyMemory(from: start, byteCount: source.count)
            count += source.count
        }

        private mutating func lowercased(_ source: UnsafeRawBufferPointer) {
            for byte in source { self.byte(HPACKStaticTable.lowercased(byte)) }
        }
    }
}
