import NIOCore

/// Writes server frames (RFC 9113 §4.1, §6) onto a buffer. Pure.
enum H2FrameWriter {
    /// The 9 bytes of a frame header (length 24 bits, type, flags, stream 31 bits, big-endian), in
    /// one write: three `writeInteger`s checked the buffer's capacity and uniqueness three times,
    /// twice per HTTP/2 response.
    @inline(__always)
    static func writeHeader(length: Int, type: UInt8, flags: UInt8, stream: UInt32, into output: inout ByteBuffer) {
        output.writeWithUnsafeMutableBytes(minimumWritableBytes: 9) { target in
            target.storeBytes(of: (UInt32(truncatingIfNeeded: length) << 8 | UInt32(type)).bigEndian, toByteOffset: 0, as: UInt32.self)
            target.storeBytes(of: flags, toByteOffset: 4, as: UInt8.self)
            target.storeBytes(of: stream.bigEndian, toByteOffset: 5, as: UInt32.self)
            return 9
        }
    }

    static func writeSettings(_ values: [(UInt16, UInt32)], into output: inout ByteBuffer) {
        writeHeader(length: values.count * 6, type: 0x4, flags: 0, stream: 0, into: &output)
        for (identifier, value) in values {
            output.writeInteger(identifier)
            output.writeInteger(value)
        }
    }

    static func writeSettingsAck(into output: inout ByteBuffer) {
        writeHeader(length: 0, type: 0x4, flags: 0x1, stream: 0, into: &output)
    }

    static func writePingAck(_ data: UInt64, into output: inout ByteBuffer) {
        writeHeader(length: 8, type: 0x6, flags: 0x1, stream: 0, into: &output)
        output.writeInteger(data)
    }

    static func writePing(_ data: UInt64, into output: inout ByteBuffer) {
        writeHeader(length: 8, type: 0x6, flags: 0, stream: 0, into: &output)
        output.writeInteger(data)
    }

    static func writeGoAway(lastStream: UInt32, code: H2ErrorCode, into output: inout ByteBuffer) {
        writeHeader(length: 8, type: 0x7, flags: 0, stream: 0, into: &output)
        output.writeInteger(lastStream)
        output.writeInteger(code.rawValue)
    }

    static func writeRstStream(_ stream: UInt32, code: H2ErrorCode, into output: inout ByteBuffer) {
        writeHeader(length: 4, type: 0x3, flags: 0, stream: stream, into: &output)
        output.writeInteger(code.rawValue)
    }

    static func writeWindowUpdate(_ stream: UInt32, increment: Int, into output: inout ByteBuffer) {
        writeHeader(length: 4, type: 0x8, flags: 0, stream: stream, into: &output)
        output.writeInteger(UInt32(increment))
    }

    /// The header of a DATA frame whose `length` payload bytes the caller writes next.
    static func writeDataHeader(_ stream: UInt32, length: Int, endStream: Bool, into output: inout ByteBuffer) {
        writeHeader(length: length, type: 0x0, flags: endStream ? 0x1 : 0, stream: stream, into: &output)
    }

    /// A header block as HEADERS and, past `maxFrameSize`, CONTINUATION frames.
    static func writeHeaders(_ stream: UInt32, block: ByteBuffer, endStream: Bool, maxFrameSize: Int, into output: inout ByteBuffer) {
        var block = block
        var type: UInt8 = 0x1
        var flags: UInt8 = endStream ? 0x1 : 0
        repeat {
            let length = min(block.readableBytes, maxFrameSize)
            var piece = block.readSlice(length: length)!
            writeHeader(length: length, type: type, flags: flags | (block.readableBytes == 0 ? 0x4 : 0), stream: stream, into: &output)
            output.writeBuffer(&piece)
            type = 0x9
            flags = 0
        } while block.readableBytes > 0
    }
}
