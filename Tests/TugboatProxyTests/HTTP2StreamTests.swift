import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing
import TugboatCore
@testable import TugboatProxy

/// An HTTP/2 connection's streams served by `HTTP2Connection` without sockets: frames are written
/// in as swift-nio-http2 would hand them on, the backends are `EmbeddedUpstreams`.
struct HTTP2Rig {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let connection: HTTP2Connection
    let upstreams: EmbeddedUpstreams
    let context: LoopContext

    init() throws {
        upstreams = EmbeddedUpstreams(loop: loop)
        context = LoopContext(eventLoop: loop, configuration: ProxyConfiguration(),
                              onPassiveFailure: { _, _ in }, connector: upstreams)
        let backend = ProxyBackend(address: HostPort(host: "127.0.0.1", port: 9100),
                                   socketAddress: try SocketAddress(ipAddress: "127.0.0.1", port: 9100), slot: 0)
        context.install(BackendSet(all: [backend], eligible: [backend], slotCount: 1))
        connection = HTTP2Connection(loop: context, settings: HTTP2Front.Settings())
        client = EmbeddedChannel(handler: connection, loop: loop)
        try client.connect(to: SocketAddress(ipAddress: "10.9.8.7", port: 40000)).wait()
    }

    static let get: [(String, String)] = [(":method", "GET"), (":scheme", "https"), (":authority", "shop.test"), (":path", "/a")]

    func headers(_ stream: Int, _ fields: [(String, String)] = get, endStream: Bool = true) throws {
        try client.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(stream),
                                           payload: .headers(.init(headers: HPACKHeaders(fields), endStream: endStream))))
        loop.run()
    }

    func data(_ stream: Int, _ bytes: Int, endStream: Bool = false) throws {
        let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: bytes)
        try client.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .data(.init(data: .byteBuffer(payload), endStream: endStream))))
        loop.run()
    }

    /// The stream ended as swift-nio-http2 reports it (both sides done, or reset).
    func closed(_ stream: Int, reason: HTTP2ErrorCode? = nil) {
        client.pipeline.fireUserInboundEventTriggered(StreamClosedEvent(streamID: HTTP2StreamID(stream), reason: reason))
        loop.run()
    }

    /// Frames written towards the client so far.
    func frames() throws -> [HTTP2Frame] {
        var frames: [HTTP2Frame] = []
        while let frame = try client.readOutbound(as: HTTP2Frame.self) { frames.append(frame) }
        return frames
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
        let frames = try rig.frames()
        guard frames.count == 2, case .headers(let head) = frames[0].payload, case .data(let body) = frames[1].payload else {
            Issue.record("frames: \(frames)")
            return
        }
        #expect(head.headers[":status"] == ["200"])
        #expect(head.headers["x-app"] == ["1"])
        #expect(head.headers["connection"].isEmpty)
        #expect(!head.endStream)
        #expect(body.endStream)
        if case .byteBuffer(let bytes) = body.data { #expect(String(buffer: bytes) == "hello") }
        rig.closed(1)
        try rig.headers(3)
        #expect(rig.upstreams.channels.count == 1)
        #expect(try rig.upstreamReceived().hasPrefix("GET /a HTTP/1.1\r\n"))
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
        #expect(whileStuck.contains { $0.streamID == .rootStream && $0.payload.isWindowUpdate })
        #expect(!whileStuck.contains { $0.streamID == HTTP2StreamID(1) && $0.payload.isWindowUpdate }, "\(whileStuck)")
        rig.upstreams.channels[0].isWritable = true
        rig.upstreams.channels[0].pipeline.fireChannelWritabilityChanged()
        rig.loop.run()
        let after = try rig.frames()
        #expect(after.contains { $0.streamID == HTTP2StreamID(1) && $0.payload.isWindowUpdate }, "\(after)")
        #expect(try rig.upstreamReceived().contains(String(repeating: "x", count: 1000)))
    }

    @Test("response backpressure: DATA swift-nio-http2 has not sent yet counts against the stream's watermark; once sent, the stream is writable again")
    func sendWatermark() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1)
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + String(repeating: "y", count: 100_000))
        let stream = try #require(rig.connection.streams[HTTP2StreamID(1)])
        #expect(!stream.isWritable)
        let data = try rig.frames().filter { if case .data = $0.payload { true } else { false } }
        #expect(data.count > 0)
        for frame in data { rig.connection.frameDelegate.wroteFrame(frame) }
        #expect(stream.isWritable)
    }

    @Test("a stream reset by the client mid-exchange closes its upstream connection (never reused)")
    func resetMidExchange() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1)
        #expect(rig.upstreams.channels[0].isActive)
        rig.closed(1, reason: .cancel)
        #expect(!rig.upstreams.channels[0].isActive)
        try rig.headers(3)
        #expect(rig.upstreams.channels.count == 2)
    }

    @Test("a malformed header block is a stream error (RST_STREAM PROTOCOL_ERROR), never forwarded")
    func malformed() throws {
        let rig = try HTTP2Rig()
        try rig.headers(1, HTTP2Rig.get + [("connection", "close")])
        let frames = try rig.frames()
        #expect(frames.contains { $0.streamID == HTTP2StreamID(1) && $0.payload.resetCode == .protocolError }, "\(frames)")
        #expect(rig.upstreams.channels.isEmpty)
    }
}

extension HTTP2Frame.FramePayload {
    var isWindowUpdate: Bool { if case .windowUpdate = self { true } else { false } }
    var resetCode: HTTP2ErrorCode? { if case .rstStream(let code) = self { code } else { nil } }
}
