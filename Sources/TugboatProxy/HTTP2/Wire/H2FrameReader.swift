import NIOCore

/// Cuts a client's bytes into HTTP/2 frames (RFC 9113 §3.4, §4, §6). Pure: bytes in, frames out.
///
/// Checks everything a frame can get wrong on its own (sizes, stream 0 or not, padding, the
/// connection preface and the SETTINGS frame that must follow it) and assembles a header block
/// from HEADERS and its CONTINUATION frames, which nothing may interleave. Bounded: a frame larger
/// than our SETTINGS_MAX_FRAME_SIZE, a header block larger than `maxHeaderBlockSize`, or more than
/// `maxContinuations` CONTINUATION frames for one block (CVE-2024-27316) is a connection error
/// before anything more is read. Payloads are slices of the bytes received, not copies.
struct H2FrameReader {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let frameHeaderSize = 9

    /// SETTINGS_MAX_FRAME_SIZE as we advertise it (the protocol's default).
    let maxFrameSize: Int
    let maxHeaderBlockSize: Int
    let maxContinuations: Int

    private var pending = ByteBuffer()
    private var prefaceRemaining = H2FrameReader.preface.count
    private var expectingSettings = true
    private var openBlock: (stream: UInt32, block: ByteBuffer, endStream: Bool, dependsOn: UInt32?, continuations: Int)?

    init(maxFrameSize: Int = 16384, maxHeaderBlockSize: Int = 64 * 1024, maxContinuations: Int = 5) {
        self.maxFrameSize = maxFrameSize
        self.maxHeaderBlockSize = maxHeaderBlockSize
        self.maxContinuations = maxContinuations
    }

    /// Bytes received and not yet cut into frames.
    var bufferedBytes: Int { pending.readableBytes }

    mutating func append(_ bytes: ByteBuffer) {
        if pending.readableBytes == 0 {
            pending = bytes
        } else {
            var bytes = bytes
            pending.writeBuffer(&bytes)
        }
    }

    /// The next complete frame, or nil until more bytes arrive.
    mutating func next() throws(H2ConnectionError) -> H2Frame? {
        while true {
            if prefaceRemaining > 0 {
                guard try readPreface() else { return nil }
            }
            guard pending.readableBytes >= Self.frameHeaderSize else {
                compact()
                return nil
            }
            let start = pending.readerIndex
            let lengthAndType = pending.getInteger(at: start, as: UInt32.self)!
            let length = Int(lengthAndType >> 8)
            let type = UInt8(truncatingIfNeeded: lengthAndType)
            let flags = pending.getInteger(at: start + 4, as: UInt8.self)!
            let stream = pending.getInteger(at: start + 5, as: UInt32.self)! & 0x7FFF_FFFF
            guard length <= maxFrameSize else {
                throw H2ConnectionError(code: .frameSizeError, reason: "a frame of \(length) bytes, above SETTINGS_MAX_FRAME_SIZE \(maxFrameSize)")
            }
            guard pending.readableBytes >= Self.frameHeaderSize + length else {
                compact()
                return nil
            }
            pending.moveReaderIndex(forwardBy: Self.frameHeaderSize)
            let payload = pending.readSlice(length: length)!
            if let frame = try frame(type: type, flags: flags, stream: stream, payload: payload) { return frame }
        }
    }

    private mutating func readPreface() throws(H2ConnectionError) -> Bool {
        let offset = Self.preface.count - prefaceRemaining
        let available = min(prefaceRemaining, pending.readableBytes)
        let matches = pending.withUnsafeReadableBytes { bytes in
            (0..<available).allSatisfy { bytes[$0] == Self.preface[offset + $0] }
        }
        guard matches else { throw H2ConnectionError(code: .protocolError, reason: "not the HTTP/2 connection preface") }
        pending.moveReaderIndex(forwardBy: available)
        prefaceRemaining -= available
        return prefaceRemaining == 0
    }

    /// Keeps what is left of a partial frame from pinning a large buffer.
    private mutating func compact() {
        if pending.readableBytes == 0 {
            pending = ByteBuffer()
        } else if pending.readerIndex > 64 * 1024 {
            pending.discardReadBytes()
        }
    }

    private mutating func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: ByteBuffer) throws(H2ConnectionError) -> H2Frame? {
        if expectingSettings {
            guard type == 0x4, flags & 0x1 == 0 else {
                throw H2ConnectionError(code: .protocolError, reason: "the connection preface is not followed by SETTINGS")
            }
            expectingSettings = false
        }
        if let open = openBlock, type != 0x9 || stream != open.stream {
            throw H2ConnectionError(code: .protocolError, reason: "a frame inside a header block (CONTINUATION expected on stream \(open.stream))")
        }
        switch type {
        case 0x0: return try data(flags: flags, stream: stream, payload: payload)
        case 0x1: return try headers(flags: flags, stream: stream, payload: payload)
        case 0x2:
            try requireStream(stream, "PRIORITY")
            guard payload.readableBytes == 5 else { return .streamError(stream: stream, code: .frameSizeError) }
            return .priority(stream: stream, dependsOn: payload.getInteger(at: payload.readerIndex, as: UInt32.self)! & 0x7FFF_FFFF)
        case 0x3:
            try requireStream(stream, "RST_STREAM")
            try requireLength(payload, 4, "RST_STREAM")
            return .rstStream(stream: stream, code: H2ErrorCode(rawValue: payload.getInteger(at: payload.readerIndex)!))
        case 0x4: return try settings(flags: flags, stream: stream, payload: payload)
        case 0x5: throw H2ConnectionError(code: .protocolError, reason: "PUSH_PROMISE from a client")
        case 0x6:
            try requireConnection(stream, "PING")
            try requireLength(payload, 8, "PING")
            let data: UInt64 = payload.getInteger(at: payload.readerIndex)!
            return flags & 0x1 != 0 ? .pingAck(data) : .ping(data)
        case 0x7:
            try requireConnection(stream, "GOAWAY")
            guard payload.readableBytes >= 8 else { throw H2ConnectionError(code: .frameSizeError, reason: "GOAWAY shorter than 8 bytes") }
            let last: UInt32 = payload.getInteger(at: payload.readerIndex)!
            let code: UInt32 = payload.getInteger(at: payload.readerIndex + 4)!
            return .goAway(lastStream: last & 0x7FFF_FFFF, code: H2ErrorCode(rawValue: code))
        case 0x8:
            try requireLength(payload, 4, "WINDOW_UPDATE")
            let increment = Int(payload.getInteger(at: payload.readerIndex, as: UInt32.self)! & 0x7FFF_FFFF)
            guard increment > 0 else {
                guard stream != 0 else { throw H2ConnectionError(code: .protocolError, reason: "WINDOW_UPDATE of 0 on the connection") }
                return .streamError(stream: stream, code: .protocolError)
            }
            return .windowUpdate(stream: stream, increment: increment)
        case 0x9: return try continuation(flags: flags, stream: stream, payload: payload)
        default: return .unknown
        }
    }

    private func data(flags: UInt8, stream: UInt32, payload: ByteBuffer) throws(H2ConnectionError) -> H2Frame {
        try requireStream(stream, "DATA")
        let flowControlled = payload.readableBytes
        let content = try unpadded(payload, flags: flags, "DATA")
        return .data(stream: stream, payload: content, endStream: flags & 0x1 != 0, flowControlled: flowControlled)
    }

    private mutating func headers(flags: UInt8, stream: UInt32, payload: ByteBuffer) throws(H2ConnectionError) -> H2Frame? {
        try requireStream(stream, "HEADERS")
        var fragment = try unpadded(payload, flags: flags, "HEADERS")
        var dependsOn: UInt32?
        if flags & 0x20 != 0 {
            guard let dependency = fragment.readInteger(as: UInt32.self), fragment.readInteger(as: UInt8.self) != nil else {
                throw H2ConnectionError(code: .frameSizeError, reason: "HEADERS too short for its priority")
            }
            dependsOn = dependency & 0x7FFF_FFFF
        }
        try requireBlockSize(fragment.readableBytes)
        let endStream = flags & 0x1 != 0
        guard flags & 0x4 == 0 else { return .headers(stream: stream, block: fragment, endStream: endStream, dependsOn: dependsOn) }
        var block = ByteBufferAllocator().buffer(capacity: fragment.readableBytes * 2)
        block.writeBuffer(&fragment)
        openBlock = (stream, block, endStream, dependsOn, 0)
        return nil
    }

    private mutating func continuation(flags: UInt8, stream: UInt32, payload: ByteBuffer) throws(H2ConnectionError) -> H2Frame? {
        guard var open = openBlock else { throw H2ConnectionError(code: .protocolError, reason: "CONTINUATION without HEADERS") }
        openBlock = nil
        open.continuations += 1
        guard open.continuations <= maxContinuations else {
            throw H2ConnectionError(code: .enhanceYourCalm, reason: "more than \(maxContinuations) CONTINUATION frames for one header block")
        }
        try requireBlockSize(open.block.readableBytes + payload.readableBytes)
        var payload = payload
        open.block.writeBuffer(&payload)
        guard flags & 0x4 != 0 else {
            openBlock = open
            return nil
        }
        return .headers(stream: open.stream, block: open.block, endStream: open.endStream, dependsOn: open.dependsOn)
    }

    private mutating func settings(flags: UInt8, stream: UInt32, payload: ByteBuffer) throws(H2ConnectionError) -> H2Frame {
        try requireConnection(stream, "SETTINGS")
        if flags & 0x1 != 0 {
            guard payload.readableBytes == 0 else { throw H2ConnectionError(code: .frameSizeError, reason: "SETTINGS acknowledgement with a payload") }
            return .settingsAck
        }
        guard payload.readableBytes % 6 == 0 else { throw H2ConnectionError(code: .frameSizeError, reason: "SETTINGS length not a multiple of 6") }
        var payload = payload
        var values: [(UInt16, UInt32)] = []
        values.reserveCapacity(payload.readableBytes / 6)
        while let identifier = payload.readInteger(as: UInt16.self), let value = payload.readInteger(as: UInt32.self) {
            values.append((identifier, value))
        }
        return .settings(values)
    }

    private func unpadded(_ payload: ByteBuffer, flags: UInt8, _ name: String) throws(H2ConnectionError) -> ByteBuffer {
        guard flags & 0x8 != 0 else { return payload }
        var payload = payload
        guard let padding = payload.readInteger(as: UInt8.self), Int(padding) <= payload.readableBytes else {
            throw H2ConnectionError(code: .protocolError, reason: "\(name) padding longer than its payload")
        }
        return payload.readSlice(length: payload.readableBytes - Int(padding))!
    }

    private func requireBlockSize(_ size: Int) throws(H2ConnectionError) {
        guard size <= maxHeaderBlockSize else {
            throw H2ConnectionError(code: .enhanceYourCalm, reason: "a header block above \(maxHeaderBlockSize) bytes")
        }
    }

    private func requireStream(_ stream: UInt32, _ name: String) throws(H2ConnectionError) {
        guard stream != 0 else { throw H2ConnectionError(code: .protocolError, reason: "\(name) on stream 0") }
    }

    private func requireConnection(_ stream: UInt32, _ name: String) throws(H2ConnectionError) {
        guard stream == 0 else { throw H2ConnectionError(code: .protocolError, reason: "\(name) on stream \(stream)") }
    }

    private func requireLength(_ payload: ByteBuffer, _ length: Int, _ name: String) throws(H2ConnectionError) {
        guard payload.readableBytes == length else {
            throw H2ConnectionError(code: .frameSizeError, reason: "\(name) of \(payload.readableBytes) bytes, not \(length)")
        }
    }
}
