import NIOCore

/// Writes server frames (RFC 9113 §4.1, §6) onto a buffer. Pure.
enum H2FrameWriter {
    static func writeHeader(length: Int, type: UInt8, flags: UInt8, stream: UInt32, into output: inout ByteBuffer) {
        output.writeInteger(UInt32(length) << 8 | UInt32(type))
        output.writeInteger(flags)
        output.writeInteger(stream)
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
