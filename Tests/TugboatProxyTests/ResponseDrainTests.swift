import NIOCore
import NIOEmbedded
import Testing
@testable import TugboatProxy

@Suite("The rest of a response whose client left, read into the void")
struct ResponseDrainTests {
    /// Feeds `pieces` one after another; the last step.
    private func drain(_ pieces: [String], method: RequestMethod = .get) -> (ResponseDrain.Step, Int) {
        var drain = ResponseDrain(requestMethod: method)
        var buffer = ByteBuffer()
        var fields: [HeaderField] = []
        var step = ResponseDrain.Step.needMore
        for piece in pieces {
            #expect(step == .needMore, "no step after the drain decided")
            buffer.writeString(piece)
            step = drain.consume(&buffer, limits: HeadLimits(), fields: &fields)
        }
        return (step, drain.drained)
    }

    @Test("a response read whole, in pieces or at once, leaves its connection reusable", arguments: [
        ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"],
        ["HTTP/1.1 200 OK\r\nCont", "ent-Length: 5\r\n\r", "\nhel", "lo"],
        ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "0\r\n\r\n"],
        ["HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"],
        ["HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"],
    ])
    func wholeResponses(pieces: [String]) {
        let (step, drained) = drain(pieces)
        #expect(step == .reusable)
        #expect(drained == pieces.joined().utf8.count)
    }

    @Test("the answer to HEAD has no body whatever its Content-Length says")
    func headRequest() {
        #expect(drain(["HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"], method: .head).0 == .reusable)
        #expect(drain(["HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"], method: .get).0 == .needMore)
    }

    @Test("what cannot leave the connection clean closes it", arguments: [
        ("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", "the backend closes it"),
        ("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", "HTTP/1.0 without keep-alive"),
        ("HTTP/1.1 200 OK\r\n\r\nbody until close", "a body that ends with the connection"),
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "a protocol switch"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", "ambiguous framing"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "a malformed chunk"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n", "bytes after the response"),
        ("HTTX/1.1 200 OK\r\n\r\n", "not HTTP"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 262145\r\n\r\n", "a body over the bound, known from its length"),
    ])
    func closes(response: String, why: String) {
        #expect(drain([response]).0 == .close, "\(why)")
    }

    @Test("a chunked body is read up to 256 KiB in all, then the connection is closed; a head over the limit closes it")
    func bounds() {
        var drain = ResponseDrain(requestMethod: .get)
        var buffer = ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        var fields: [HeaderField] = []
        let chunk = "4000\r\n" + String(repeating: "x", count: 0x4000) + "\r\n"
        var steps: [ResponseDrain.Step] = []
        for _ in 0..<20 {
            buffer.writeString(chunk)
            let step = drain.consume(&buffer, limits: HeadLimits(), fields: &fields)
            steps.append(step)
            if step != .needMore { break }
        }
        #expect(steps.last == .close)
        #expect(steps.count == 16, "closed once 256 KiB were read: \(steps.count) chunks of 16 KiB")
        #expect(drain.drained > ResponseDrain.maxBytes && drain.drained <= ResponseDrain.maxBytes + chunk.utf8.count)

        var trickled = ResponseDrain(requestMethod: .get)
        var head = ByteBuffer(string: "HTTP/1.1 200 OK\r\n")
        #expect(trickled.consume(&head, limits: HeadLimits(), fields: &fields) == .needMore)
        head.writeString("X-Big: " + String(repeating: "y", count: 70 * 1024))
        #expect(trickled.consume(&head, limits: HeadLimits(), fields: &fields) == .close)
    }

    @Test("a body relayed in part: only what is left of it is read")
    func midBody() {
        var drain = ResponseDrain(requestMethod: .get, body: BodyCursor(.length(4)))
        var buffer = ByteBuffer(string: "ab")
        var fields: [HeaderField] = []
        #expect(drain.consume(&buffer, limits: HeadLimits(), fields: &fields) == .needMore)
        buffer.writeString("cd")
        #expect(drain.consume(&buffer, limits: HeadLimits(), fields: &fields) == .reusable)
    }
}

@Suite("ProxyHandler: a response abandoned by its client keeps its upstream connection")
struct AbandonedResponseTests {
    private func pool(_ rig: ProxyRig) -> UpstreamPool { rig.context.pool(for: rig.backends[0]) }

    @Test("the client closes while the backend works: the response is read and the connection goes back to the pool")
    func clientClosesBeforeResponse() throws {
        let rig = try ProxyRig()
        try rig.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try rig.upstreamReceived().hasPrefix("GET /slow HTTP/1.1\r\n"))
        try rig.client.close().wait()
        #expect(pool(rig).idleCount == 0, "not idle while its response is still to come")
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")
        #expect(pool(rig).idleCount == 0)
        try rig.respond(0, "56789")
        #expect(pool(rig).idleCount == 1)
        #expect(rig.upstreams.channels[0].isActive)
        // The next request takes it: no second dial.
        let second = EmbeddedChannel(loop: rig.loop)
        try ProxyServer.configureClientPipeline(second, loop: rig.context, plainSocket: false)
        try second.connect(to: SocketAddress(ipAddress: "10.9.8.7", port: 40001)).wait()
        try second.writeInbound(ByteBuffer(string: "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(rig.upstreams.channels.count == 1)
        #expect(try rig.upstreamReceived().hasPrefix("GET /next HTTP/1.1\r\n"))
    }

    @Test("the client leaves in the middle of the body: the rest is read, then the connection is idle")
    func clientClosesMidBody() throws {
        let rig = try ProxyRig()
        try rig.send("GET /file HTTP/1.1\r\nHost: x\r\n\r\n")
        try rig.respond(0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        #expect(try rig.received().contains("abc"))
        try rig.client.close().wait()
        try rig.respond(0, "3\r\ndef\r\n0\r\n\r\n")
        #expect(pool(rig).idleCount == 1)
    }

    @Test("no response within a second (or by the request's own deadline if sooner): the connection is closed then, not kept")
    func patience() throws {
        let rig = try ProxyRig { $0.requestTimeout = .seconds(60) }
        try rig.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        try rig.client.close().wait()
        rig.loop.advanceTime(by: .milliseconds(900))
        #expect(rig.upstreams.channels[0].isActive)
        rig.loop.advanceTime(by: .milliseconds(200))
        #expect(!rig.upstreams.channels[0].isActive, "a slow backend's work is cancelled within ResponseDrain.patience")

        let soon = try ProxyRig { $0.requestTimeout = .seconds(5) }
        try soon.send("GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
        soon.loop.advanceTime(by: .milliseconds(4600))
        try soon.client.close().wait()
        soon.loop.advanceTime(by: .milliseconds(300))
        #expect(soon.upstreams.channels[0].isActive)
        soon.loop.advanceTime(by: .milliseconds(200))
        #expect(!soon.upstreams.channels[0].isActive, "the request's deadline came first")
        #expect(pool(soon).idleCount == 0)
    }

    @Test("a request whose body was not all sent: the backend may wait for it forever, so its connection is closed")
    func unfinishedRequest() throws {
        let rig = try ProxyRig()
        try rig.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
        #expect(try rig.upstreamReceived().hasSuffix("only part"))
        try rig.client.close().wait()
        #expect(!rig.upstreams.channels[0].isActive)
    }

    @Test("a large body is not read to its end: over the bound the connection is closed")
    func largeBody() throws {
        let rig = try ProxyRig()
        try rig.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        try rig.client.close().wait()
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
        #expect(!rig.upstreams.channels[0].isActive)
        #expect(pool(rig).idleCount == 0)
    }
}
