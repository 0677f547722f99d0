import NIOCore
import NIOEmbedded
import NIOHPACK
import Testing
import TugboatCore
@testable import TugboatProxy

/// An HTTP/2 connection's streams served by `HTTP2Connection` without sockets: the client's bytes
/// (preface, SETTINGS, frames written with `H2FrameWriter` and swift-nio-http2's HPACK encoder) are
/// written in, the server's frames read back with `H2FrameReader`; the backends are
/// `EmbeddedUpstreams`.
final class HTTP2Rig {
    let loop: EmbeddedEventLoop
    let client: EmbeddedChannel
    let connection: HTTP2Connection
    let upstreams: EmbeddedUpstreams
    let context: LoopContext
    private var encoder = HPACKEncoder(allocator: ByteBufferAllocator())
    private var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
    /// Reads the server's frames (it starts with SETTINGS, as a client's frames do after the preface).
    private var reader = H2FrameReader(maxFrameSize: 1 << 24, maxHeaderBlockSize: 1 << 20)

    /// `sharingLoopWith`: a second connection on the other rig's loop (its backends, its pools,
    /// its spare stream handlers), from client address `clientIP`.
    init(sharingLoopWith other: HTTP2Rig? = nil, clientIP: String = "10.9.8.7") throws {
        if let other {
            loop = other.loop
            upstreams = other.upstreams
            context = other.context
        } else {
            loop = EmbeddedEventLoop()
            upstreams = EmbeddedUpstreams(loop: loop)
            context = LoopContext(eventLoop: loop, configuration: ProxyConfiguration(),
                                  onPassiveFailure: { _, _ in }, connector: upstreams)
            let backend = ProxyBackend(address: HostPort(host: "127.0.0.1", port: 9100),
                                       socketAddress: try SocketAddress(ipAddress: "127.0.0.1", port: 9100), slot: 0)
            context.install(BackendSet(all: [backend], eligible: [backend], slotCount: 1))
        }
        connection = HTTP2Connection(loop: context, settings: HTTP2Front.Settings())
        client = EmbeddedChannel(handler: connection, loop: loop)
        try client.connect(to: SocketAddress(ipAddress: clientIP, port: 40000)).wait()
        reader.append(ByteBuffer(bytes: H2FrameReader.preface))
        var opening = ByteBuffer(bytes: H2FrameReader.preface)
        H2FrameWriter.writeSettings([], into: &opening)
        try send(opening)
    }

    static let get: [(String, String)] = [(":method", "GET"), (":scheme", "https"), (":authority", "shop.test"), (":path", "/a")]

    func send(_ bytes: ByteBuffer) throws {
        try client.writeInbound(bytes)
        client.pipeline.fireChannelReadComplete()
        loop.run()
    }

    func headers(_ stream: UInt32, _ fields: [(String, String)] = get, endStream: Bool = true) throws {
        var block = ByteBuffer()
        try encoder.encode(headers: HPACKHeaders(fields), to: &block)
        var frame = ByteBuffer()
        H2FrameWriter.writeHeaders(stream, block: block, endStream: endStream, maxFrameSize: 16384, into: &frame)
        try send(frame)
    }

    /// `bytes` of DATA in frames of at most 16 KiB (SETTINGS_MAX_FRAME_SIZE).
    func data(_ stream: UInt32, _ bytes: Int, endStream: Bool = false) throws {
        var frames = ByteBuffer()
        var left = bytes
        repeat {
            let length = min(left, 16384)
            left -= length
            H2FrameWriter.writeDataHeader(stream, length: length, endStream: endStream && left == 0, into: &frames)
            frames.writeRepeatingByte(UInt8(ascii: "x"), count: length)
        } while left > 0
        try send(frames)
    }

    func reset(_ stream: UInt32, code: H2ErrorCode = .cancel) throws {
        var frame = ByteBuffer()
        H2FrameWriter.writeRstStream(stream, code: code, into: &frame)
        try send(frame)
    }

    func windowUpdate(_ stream: UInt32, _ increment: Int) throws {
        var frame = ByteBuffer()
        H2FrameWriter.writeWindowUpdate(stream, increment: increment, into: &frame)
        try send(frame)
    }

    /// Frames written towards the client so far.
    func frames() throws -> [H2Frame] {
        while let bytes = try client.readOutbound(as: ByteBuffer.self) { reader.append(bytes) }
        var frames: [H2Frame] = []
        while let frame = try reader.next() { frames.append(frame) }
        return frames
    }

    /// A header block the server sent, decoded.
    func fields(_ block: ByteBuffer) throws -> HPACKHeaders {
        var block = block
        return try decoder.decodeHeaders(from: &block)
    }

    func upstreamReceived(_ index: Int = 0) throws -> String {
        var text = ""
        while let buffer = try upstreams.channels[index].readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    func respond(_ index: Int = 0, _ text: String) throws {
        try upstreams.channels[index].writeInbound(ByteBuffer(string: text))
        loop.run()
    }
}

@Suite("HTTP/2 streams without a channel each (HTTP2Connection, HTTP2Stream)")
struct HTTP2StreamTests {
    @Test("a stream is forwarded as HTTP/1.1 with Via 2 tugboat; the response comes back as HEADERS and DATA; the next stream reuses the upstream connection")
    func exchange() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1)
        let forwarded = try rig.upstreamReceived()
        #expect(forwarded.hasPrefix("GET /a HTTP/1.1\r\nhost: shop.test\r\n"), "\(forwarded)")
        #expect(forwarded.contains("x-forwarded-for: 10.9.8.7\r\nx-forwarded-proto: https\r\n"), "\(forwarded)")
        #expect(forwarded.contains("via: 2 tugboat\r\n"), "\(forwarded)")
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\nX-App: 1\r\n\r\nhello")
        let frames = try rig.frames().filter { if case .settings = $0 { false } else if case .settingsAck = $0 { false } else { true } }
        guard frames.count == 2, case .headers(1, let block, let headEnds, _) = frames[0], case .data(1, let body, let bodyEnds, _) = frames[1] else {
            Issue.record("frames: \(frames)")
            return
        }
        let head = try rig.fields(block)
        #expect(head[":status"] == ["200"])
        #expect(head["x-app"] == ["1"])
        #expect(head["connection"].isEmpty)
        #expect(head["via"] == ["1.1 tugboat"], "the hop is added as over HTTP/1.1")
        let sentID = forwarded.split(separator: "\r\n").first { $0.hasPrefix("x-request-id: ") }?.dropFirst(14)
        #expect(sentID != nil && head["x-request-id"] == [String(sentID!)], "the id the backend was sent: \(head)")
        #expect(!headEnds)
        #expect(bodyEnds)
        #expect(String(buffer: body) == "hello")
        #expect(rig.connection.streams.isEmpty, "both sides ended: the stream is closed")
        try rig.headers(3)
        #expect(rig.upstreams.channels.count == 1)
        #expect(try rig.upstreamReceived().hasPrefix("GET /a HTTP/1.1\r\n"))
    }

    @Test("a backend's own via and x-request-id are kept; Tugboat's hop is appended to via")
    func responseForwarding() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1)
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nVia: 1.1 cdn\r\nX-Request-Id: from-app\r\n\r\nok")
        guard case .headers(1, let block, _, _) = try rig.frames().first(where: { if case .headers = $0 { true } else { false } }) else {
            Issue.record("no head")
            return
        }
        let head = try rig.fields(block)
        #expect(head["via"] == ["1.1 cdn, 1.1 tugboat"])
        #expect(head["x-request-id"] == ["from-app"])
    }

    @Test("request body flow control: the stream's window is given back only while its backend takes the body")
    func receiveWindow() throws {
        let rig = try HTTP2Rig()
        let post: [(String, String)] = [(":method", "POST"), (":scheme", "https"), (":authority", "x"), (":path", "/u")]
        try rig.headers(1, post, endStream: false)
        _ = try rig.upstreamReceived()
        _ = try rig.frames()
        rig.upstreams.channels[0].isWritable = false
        rig.upstreams.channels[0].pipeline.fireChannelWritabilityChanged()
        try rig.data(1, 40_000)
        let whileStuck = try rig.frames()
        // The connection's window comes back at once; the stream's does not.
        #expect(whileStuck.contains { $0.windowUpdateStream == 0 })
        #expect(!whileStuck.contains { $0.windowUpdateStream == 1 }, "\(whileStuck)")
        rig.upstreams.channels[0].isWritable = true
        rig.upstreams.channels[0].pipeline.fireChannelWritabilityChanged()
        rig.loop.run()
        let after = try rig.frames()
        #expect(after.contains { $0.windowUpdateStream == 1 }, "\(after)")
        #expect(try rig.upstreamReceived().contains(String(repeating: "x", count: 1000)))
    }

    @Test("response backpressure: DATA beyond the client's window waits and counts against the stream's watermark; a WINDOW_UPDATE sends it and the stream is writable again")
    func sendWatermark() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1)
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + String(repeating: "y", count: 200_000))
        let stream = try #require(rig.connection.streams[1])
        let first = try rig.frames().reduce(0) { if case .data(1, let bytes, _, _) = $1 { $0 + bytes.readableBytes } else { $0 } }
        #expect(first == 65535, "the client's initial window")
        #expect(!stream.isWritable)
        try rig.windowUpdate(0, 300_000)
        try rig.windowUpdate(1, 300_000)
        let second = try rig.frames().reduce(0) { if case .data(1, let bytes, _, _) = $1 { $0 + bytes.readableBytes } else { $0 } }
        #expect(first + second == 200_000)
        #expect(stream.isWritable)
    }

    @Test("streams' timeouts run on their connection's one timer: a backend that never answers gets 504 at timeouts.request, the other streams go on")
    func requestTimeout() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1)
        rig.loop.advanceTime(by: .seconds(30))
        try rig.headers(3)
        _ = try rig.frames()
        rig.loop.advanceTime(by: .seconds(31))  // stream 1 is 61 s old, stream 3 31 s
        let frames = try rig.frames()
        guard case .headers(1, let block, _, _) = frames.first(where: { if case .headers = $0 { true } else { false } }) else {
            Issue.record("no answer on stream 1: \(frames)")
            return
        }
        #expect(try rig.fields(block)[":status"] == ["504"])
        #expect(!frames.contains { if case .headers(3, _, _, _) = $0 { true } else { false } })
        rig.loop.advanceTime(by: .seconds(30))
        let later = try rig.frames()
        #expect(later.contains { if case .headers(3, _, _, _) = $0 { true } else { false } }, "stream 3 times out 60 s after it began")
    }

    @Test("a stream reset by the client mid-exchange: its response is read into the void, then its upstream connection serves the next stream")
    func resetMidExchange() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1)
        #expect(try rig.upstreamReceived(0).hasPrefix("GET /a HTTP/1.1\r\n"))
        try rig.reset(1)
        _ = try rig.frames()
        #expect(rig.upstreams.channels[0].isActive, "kept while its response is still to come")
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
        #expect(try rig.frames().isEmpty, "nothing of the abandoned response reaches the client")
        try rig.headers(3)
        #expect(rig.upstreams.channels.count == 1, "no second dial")
        #expect(try rig.upstreamReceived(0).hasPrefix("GET /a HTTP/1.1\r\n"), "stream 3's request on the same connection")
    }

    @Test("a stream reset while its request body is still coming: the backend waits for the rest, so its connection is closed")
    func resetMidRequestBody() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1, [(":method", "POST"), (":scheme", "https"), (":authority", "shop.test"), (":path", "/up")], endStream: false)
        try rig.data(1, 5)
        try rig.reset(1)
        #expect(!rig.upstreams.channels[0].isActive)
    }

    @Test("a stream's handler serves the loop's next streams, of its connection or another's, with nothing of the last one: not its body, id, client, or clock")
    func handlerReuse() throws {
        let a = try HTTP2Rig()
        try a.headers(1)
        let first = try a.upstreamReceived(0)
        try a.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(a.context.spareStreamHandlers.count == 1, "stream 1 over: its handler waits for the next stream")
        // Its identity only: a reference held here would keep it from being reused (it must be
        // the connection's alone to be).
        let reused = ObjectIdentifier(try #require(a.context.spareStreamHandlers.first))
        _ = try a.frames()

        // A POST reset halfway through its body, on the reused handler and the idle upstream connection.
        let post = [(":method", "POST"), (":scheme", "https"), (":authority", "shop.test"), (":path", "/upload")]
        try a.headers(3, post, endStream: false)
        #expect(a.context.spareStreamHandlers.isEmpty)
        try a.data(3, 100)
        #expect(try a.upstreamReceived(0).hasPrefix("POST /upload HTTP/1.1\r\n"))
        try a.reset(3)
        #expect(!a.upstreams.channels[0].isActive, "the half-sent POST's upstream connection is closed")
        #expect(a.context.spareStreamHandlers.map(ObjectIdentifier.init) == [reused], "and its handler is free again")
        _ = try a.frames()

        // Another connection on the loop, another client, 40 s later: the same handler.
        a.loop.advanceTime(by: .seconds(40))
        let b = try HTTP2Rig(sharingLoopWith: a, clientIP: "10.1.1.1")
        try b.headers(1, HTTP2Rig.get + [("x-mark", "b")])
        #expect(a.context.spareStreamHandlers.isEmpty)
        let forwarded = try b.upstreamReceived(1)
        #expect(forwarded.hasPrefix("GET /a HTTP/1.1\r\nhost: shop.test\r\n"), "nothing of the POST's body before it: \(forwarded)")
        #expect(forwarded.contains("x-forwarded-for: 10.1.1.1\r\n"), "its own client's address: \(forwarded)")
        #expect(forwarded.contains("x-mark: b\r\n"))
        let id = { (head: String) in head.split(separator: "\r\n").first { $0.hasPrefix("x-request-id: ") } }
        #expect(id(forwarded) != nil && id(forwarded) != id(first), "a request id of its own")

        // Its clock starts with it: no answer, 504 at timeouts.request (60 s) from its start, not from the handler's first.
        b.loop.advanceTime(by: .seconds(59))
        #expect(try !b.frames().contains { if case .headers(1, _, _, _) = $0 { true } else { false } })
        b.loop.advanceTime(by: .seconds(2))
        guard case .headers(1, let block, _, _) = try b.frames().first(where: { if case .headers = $0 { true } else { false } }) else {
            Issue.record("no 504 on b's stream 1")
            return
        }
        #expect(try b.fields(block)[":status"] == ["504"])
        #expect(try !a.frames().contains { if case .headers = $0 { true } else { false } }, "nothing for b reached a")
    }

    @Test("a malformed header block is a stream error (RST_STREAM PROTOCOL_ERROR), never forwarded")
    func malformed() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1, HTTP2Rig.get + [("connection", "close")])
        let frames = try rig.frames()
        #expect(frames.contains(.rstStream(stream: 1, code: .protocolError)), "\(frames)")
        #expect(rig.upstreams.channels.isEmpty)
    }
}

extension H2Frame {
    var windowUpdateStream: UInt32? { if case .windowUpdate(let stream, _) = self { stream } else { nil } }
}
