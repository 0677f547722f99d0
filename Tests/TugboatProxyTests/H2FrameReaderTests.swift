import NIOCore
import Testing
@testable import TugboatProxy

/// Cutting a client's bytes into HTTP/2 frames: the preface, every frame type's own rules, header
/// blocks over CONTINUATION, and the bounds an attacker runs into.
@Suite("HTTP/2 frame reader")
struct H2FrameReaderTests {
    func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        var out = ByteBuffer()
        H2FrameWriter.writeHeader(length: payload.count, type: type, flags: flags, stream: stream, into: &out)
        out.writeBytes(payload)
        return Array(out.readableBytesView)
    }

    var opening: [UInt8] { H2FrameReader.preface + frame(0x4, [0, 3, 0, 0, 0, 100]) }

    func read(_ bytes: [UInt8], reader: H2FrameReader = H2FrameReader(), chunk: Int? = nil) throws(H2ConnectionError) -> [H2Frame] {
        var reader = reader
        var frames: [H2Frame] = []
        let step = chunk ?? max(bytes.count, 1)
        for start in stride(from: 0, to: bytes.count, by: step) {
            reader.append(ByteBuffer(bytes: bytes[start..<min(start + step, bytes.count)]))
            while let frame = try reader.next() { frames.append(frame) }
        }
        return frames
    }

    func error(_ bytes: [UInt8], reader: H2FrameReader = H2FrameReader()) -> H2ConnectionError? {
        do {
            _ = try read(bytes, reader: reader)
            return nil
        } catch {
            return error
        }
    }

    @Test("a conversation read whole and byte by byte gives the same frames; padding is removed, flow control counts it")
    func conversation() throws {
        var stream = ByteBuffer()
        H2FrameWriter.writeWindowUpdate(0, increment: 1000, into: &stream)
        let bytes = opening
            + frame(0x1, flags: 0x4 | 0x1, stream: 1, [0x82, 0x84])
            + frame(0x0, flags: 0x8, stream: 3, [2, 0x68, 0x69, 0, 0])
            + frame(0x0, flags: 0x1, stream: 3, [])
            + Array(stream.readableBytesView)
            + frame(0x6, [1, 2, 3, 4, 5, 6, 7, 8])
            + frame(0x6, flags: 0x1, [0, 0, 0, 0, 0, 0, 0, 9])
            + frame(0x3, stream: 5, [0, 0, 0, 8])
            + frame(0x7, [0, 0, 0, 7, 0, 0, 0, 0, 0x64, 0x62, 0x67])
            + frame(0x2, stream: 7, [0, 0, 0, 1, 16])
            + frame(0xFA, stream: 1, [1, 2, 3])
            + frame(0x4, flags: 0x1)
        let expected: [H2Frame] = [
            .settings([(3, 100)]),
            .headers(stream: 1, block: ByteBuffer(bytes: [0x82, 0x84]), endStream: true, dependsOn: nil),
            .data(stream: 3, payload: ByteBuffer(bytes: [0x68, 0x69]), endStream: false, flowControlled: 5),
            .data(stream: 3, payload: ByteBuffer(), endStream: true, flowControlled: 0),
            .windowUpdate(stream: 0, increment: 1000),
            .ping(0x0102_0304_0506_0708),
            .pingAck(9),
            .rstStream(stream: 5, code: .cancel),
            .goAway(lastStream: 7, code: .noError),
            .priority(stream: 7, dependsOn: 1),
            .unknown,
            .settingsAck,
        ]
        #expect(try read(bytes) == expected)
        #expect(try read(bytes, chunk: 1) == expected)
        #expect(try read(bytes, chunk: 7) == expected)
    }

    @Test("HEADERS and its CONTINUATION frames make one block; priority fields are read off the first")
    func continuation() throws {
        let bytes = opening
            + frame(0x1, flags: 0x20, stream: 1, [0, 0, 0, 0, 16, 0x82])
            + frame(0x9, stream: 1, [0x84])
            + frame(0x9, flags: 0x4, stream: 1, [0x86])
        #expect(try read(bytes) == [.settings([(3, 100)]), .headers(stream: 1, block: ByteBuffer(bytes: [0x82, 0x84, 0x86]), endStream: false, dependsOn: 0)])
    }

    @Test("a CONTINUATION flood (CVE-2024-27316) and an oversized header block end the connection with ENHANCE_YOUR_CALM")
    func continuationFlood() {
        var flood = opening + frame(0x1, stream: 1, [0x82])
        for _ in 0..<6 { flood += frame(0x9, stream: 1, [0x40, 0x01]) }
        #expect(error(flood)?.code == .enhanceYourCalm)
        let large = opening + frame(0x1, stream: 1, [UInt8](repeating: 0, count: 16000)) + frame(0x9, stream: 1, [UInt8](repeating: 0, count: 16000))
        #expect(error(large, reader: H2FrameReader(maxHeaderBlockSize: 20000))?.code == .enhanceYourCalm)
    }

    @Test("connection errors: preface, no SETTINGS first, sizes, stream 0 rules, padding, interleaving, PUSH_PROMISE")
    func connectionErrors() {
        let cases: [([UInt8], H2ErrorCode, String)] = [
            (Array("GET / HTTP/1.1\r\n\r\n".utf8), .protocolError, "an HTTP/1.1 request instead of the preface"),
            (H2FrameReader.preface + frame(0x6, [0, 0, 0, 0, 0, 0, 0, 0]), .protocolError, "PING before SETTINGS"),
            (opening + frame(0x0, stream: 1, [UInt8](repeating: 0, count: 16385)), .frameSizeError, "DATA above SETTINGS_MAX_FRAME_SIZE"),
            (opening + frame(0x0, stream: 0, [1]), .protocolError, "DATA on stream 0"),
            (opening + frame(0x1, flags: 0x4, stream: 0, [0x82]), .protocolError, "HEADERS on stream 0"),
            (opening + frame(0x0, flags: 0x8, stream: 1, [5, 0, 0]), .protocolError, "padding longer than the payload"),
            (opening + frame(0x4, stream: 1, []), .protocolError, "SETTINGS on a stream"),
            (opening + frame(0x4, [0, 1, 0]), .frameSizeError, "SETTINGS of 3 bytes"),
            (opening + frame(0x4, flags: 0x1, [0, 1, 0, 0, 0, 0]), .frameSizeError, "SETTINGS ACK with a payload"),
            (opening + frame(0x6, [0, 0, 0, 0]), .frameSizeError, "PING of 4 bytes"),
            (opening + frame(0x6, stream: 1, [0, 0, 0, 0, 0, 0, 0, 0]), .protocolError, "PING on a stream"),
            (opening + frame(0x3, stream: 1, [0, 0, 0]), .frameSizeError, "RST_STREAM of 3 bytes"),
            (opening + frame(0x3, stream: 0, [0, 0, 0, 0]), .protocolError, "RST_STREAM on stream 0"),
            (opening + frame(0x7, [0, 0, 0, 0]), .frameSizeError, "GOAWAY of 4 bytes"),
            (opening + frame(0x8, [0, 0, 0, 0]), .protocolError, "WINDOW_UPDATE of 0 on the connection"),
            (opening + frame(0x8, stream: 1, [0, 0, 1]), .frameSizeError, "WINDOW_UPDATE of 3 bytes"),
            (opening + frame(0x5, stream: 1, [0, 0, 0, 2]), .protocolError, "PUSH_PROMISE from a client"),
            (opening + frame(0x9, flags: 0x4, stream: 1, [0x82]), .protocolError, "CONTINUATION without HEADERS"),
            (opening + frame(0x1, stream: 1, [0x82]) + frame(0x0, stream: 1, [1]), .protocolError, "DATA inside a header block"),
            (opening + frame(0x1, stream: 1, [0x82]) + frame(0x9, flags: 0x4, stream: 3, [0x84]), .protocolError, "CONTINUATION on another stream"),
        ]
        for (bytes, code, what) in cases {
            #expect(error(bytes)?.code == code, "\(what)")
        }
    }

    @Test("stream errors: a PRIORITY of the wrong size and a WINDOW_UPDATE of 0 on a stream reset that stream only")
    func streamErrors() throws {
        let frames = try read(opening + frame(0x2, stream: 3, [0, 0, 0, 1]) + frame(0x8, stream: 5, [0, 0, 0, 0]))
        #expect(frames.dropFirst().elementsEqual([.streamError(stream: 3, code: .frameSizeError), .streamError(stream: 5, code: .protocolError)]))
    }

    @Test("the writer's frames read back as written; a large header block is split into CONTINUATION frames")
    func writer() throws {
        var out = ByteBuffer(bytes: opening)
        H2FrameWriter.writeSettings([(H2Setting.maxConcurrentStreams, 100), (H2Setting.initialWindowSize, 65535)], into: &out)
        H2FrameWriter.writeSettingsAck(into: &out)
        H2FrameWriter.writePingAck(42, into: &out)
        H2FrameWriter.writeRstStream(3, code: .refusedStream, into: &out)
        H2FrameWriter.writeGoAway(lastStream: 9, code: .enhanceYourCalm, into: &out)
        let block = ByteBuffer(bytes: (0..<40000).map { UInt8(truncatingIfNeeded: $0) })
        H2FrameWriter.writeHeaders(1, block: block, endStream: true, maxFrameSize: 16384, into: &out)
        H2FrameWriter.writeDataHeader(1, length: 2, endStream: true, into: &out)
        out.writeBytes([1, 2])
        let frames = try read(Array(out.readableBytesView), reader: H2FrameReader(maxHeaderBlockSize: 65536))
        #expect(frames == [
            .settings([(3, 100)]),
            .settings([(3, 100), (4, 65535)]),
            .settingsAck,
            .pingAck(42),
            .rstStream(stream: 3, code: .refusedStream),
            .goAway(lastStream: 9, code: .enhanceYourCalm),
            .headers(stream: 1, block: block, endStream: true, dependsOn: nil),
            .data(stream: 1, payload: ByteBuffer(bytes: [1, 2]), endStream: true, flowControlled: 2),
        ])
    }
}
