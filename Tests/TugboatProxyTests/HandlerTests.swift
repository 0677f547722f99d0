import NIOCore
import NIOEmbedded
import Testing
import TugboatCore
@testable import TugboatProxy

/// Upstream connections as `EmbeddedChannel`s on the client's loop: the whole exchange runs
/// without sockets, and each test plays the backend by hand.
final class EmbeddedUpstreams: UpstreamConnector {
    let loop: EmbeddedEventLoop
    private(set) var channels: [EmbeddedChannel] = []
    var failures: [Error] = []

    init(loop: EmbeddedEventLoop) { self.loop = loop }

    func connect(to backend: ProxyBackend, on eventLoop: EventLoop) -> EventLoopFuture<UpstreamHandler> {
        if !failures.isEmpty { return eventLoop.makeFailedFuture(failures.removeFirst()) }
        let handler = UpstreamHandler(backend: backend)
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        _ = channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 9000 + channels.count))
        channels.append(channel)
        let promise = eventLoop.makePromise(of: UpstreamHandler.self)
        promise.assumeIsolated().succeed(handler)
        return promise.futureResult
    }
}

/// A client connection through the real ProxyHandler, backends played by `EmbeddedUpstreams`.
struct ProxyRig {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let upstreams: EmbeddedUpstreams
    let backends: [ProxyBackend]
    let context: LoopContext

    init(backendCount: Int = 1, accessLog: AccessLog? = nil, configure: (inout ProxyConfiguration) -> Void = { _ in }) throws {
        var configuration = ProxyConfiguration()
        configure(&configuration)
        upstreams = EmbeddedUpstreams(loop: loop)
        context = LoopContext(eventLoop: loop, configuration: configuration, onPassiveFailure: { _, _ in },
                              connector: upstreams, accessLog: accessLog)
        backends = try (0..<backendCount).map { index in
            ProxyBackend(address: HostPort(host: "127.0.0.1", port: 9100 + index),
                         socketAddress: try SocketAddress(ipAddress: "127.0.0.1", port: 9100 + index), slot: index)
        }
        context.install(BackendSet(all: backends, eligible: backends, slotCount: backendCount))
        client = EmbeddedChannel(loop: loop)
        try ProxyServer.configureClientPipeline(client, loop: context, plainSocket: false)
        try client.connect(to: SocketAddress(ipAddress: "10.9.8.7", port: 40000)).wait()
    }

    func send(_ text: String) throws { try client.writeInbound(ByteBuffer(string: text)) }

    /// Everything the proxy wrote to the client so far, once the loop's turn is over (responses
    /// are flushed at the end of a turn: ``TurnEndFlushes``).
    func received() throws -> String {
        loop.run()
        var text = ""
        while let buffer = try client.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    /// Everything the proxy wrote to upstream connection `index` so far.
    func upstreamReceived(_ index: Int = 0) throws -> String {
        guard index < upstreams.channels.count else { return "" }
        var text = ""
        while let buffer = try upstreams.channels[index].readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    func respond(_ index: Int = 0, _ text: String) throws {
        try upstreams.channels[index].writeInbound(ByteBuffer(string: text))
    }
}

@Suite("ProxyHandler on EmbeddedChannels (no sockets)")
struct HandlerTests {
    @Test("a GET is forwarded with the contract's edits only, and its response relayed; the upstream is reused")
    func simpleExchange() throws {
        let rig = try ProxyRig()
        try rig.send("GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nProxy-Authorization: x\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n\r\n")
        let forwarded = try rig.upstreamReceived()
        #expect(forwarded.hasPrefix("GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n"))
        for gone in ["X-Hop", "Keep-Alive", "Proxy-Authorization", "Connection", "6.6.6.6"] {
            #expect(!forwarded.contains(gone), "\(gone)")
        }
        #expect(forwarded.contains("x-forwarded-for: 10.9.8.7\r\n"))
        #expect(forwarded.contains("x-forwarded-proto: http\r\nx-forwarded-host: example.com\r\nvia: 1.1 tugboat\r\nx-request-id: "))
        #expect(forwarded.hasSuffix("\r\n\r\n"))
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nVia: 1.0 app\r\n\r\nhello")
        let response = try rig.received()
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nvia: 1.0 app, 1.1 tugboat\r\nx-request-id: "))
        #expect(response.hasSuffix("\r\n\r\nhello"))
        try rig.send("GET /second HTTP/1.1\r\nHost: example.com\r\nX-Request-Id: mine\r\n\r\n")
        #expect(rig.upstreams.channels.count == 1)  // the same upstream connection
        #expect(try rig.upstreamReceived().contains("X-Request-Id: mine\r\n"))
        try rig.respond(0, "HTTP/1.1 204 No Content\r\n\r\n")
        #expect(try rig.received().contains("x-request-id: mine\r\n"))
        #expect(rig.client.isActive)
    }

    @Test("framing is ours: a Chunked (capital C) body is forwarded with one transfer-encoding written by us, bytes as they came")
    func chunkedCapital() throws {
        let rig = try ProxyRig()
        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        let body = String(smuggled.utf8.count, radix: 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n"
        try rig.send("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n" + body)
        let forwarded = try rig.upstreamReceived()
        #expect(forwarded.components(separatedBy: "transfer-encoding: chunked\r\n").count == 2)
        #expect(!forwarded.contains("Transfer-Encoding: Chunked"))
        #expect(forwarded.hasSuffix("\r\n\r\n" + body))
        // Only one request reached the backend: after its response the connection is idle again.
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(try rig.received().hasPrefix("HTTP/1.1 200 OK"))
        #expect(try rig.upstreamReceived() == "")
    }

    @Test("a malformed chunk in a request body: 400 to the client, the half-sent upstream request is abandoned")
    func malformedChunk() throws {
        let rig = try ProxyRig()
        try rig.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n")
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(text)")
        #expect(!rig.client.isActive)
        #expect(!rig.upstreams.channels[0].isActive)
    }

    @Test("pipelined requests: the second is forwarded only after the first response, in order")
    func pipelining() throws {
        let rig = try ProxyRig()
        try rig.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        let first = try rig.upstreamReceived()
        #expect(first.hasPrefix("GET /1 "))
        #expect(!first.contains("POST"))
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
        let second = try rig.upstreamReceived()
        #expect(second.hasPrefix("POST /2 HTTP/1.1\r\n"))
        #expect(second.contains("content-length: 3\r\n"))
        #expect(second.hasSuffix("\r\n\r\nabc"))
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
        let answers = try rig.received()
        #expect(answers.hasSuffix("\r\n\r\n1") == false)
        #expect(answers.contains("\r\n\r\n1HTTP/1.1 200 OK"))
        #expect(answers.hasSuffix("\r\n\r\n2"))
    }

    @Test("a failed connect is retried on the other backend and counted against the first")
    func retry() throws {
        let rig = try ProxyRig(backendCount: 2)
        rig.upstreams.failures = [ChannelError.connectTimeout(.seconds(1))]
        try rig.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(rig.upstreams.channels.count == 1)
        #expect(try rig.upstreamReceived().hasPrefix("GET / HTTP/1.1"))
        #expect(rig.backends.map { $0.consecutiveFailures.load(ordering: .relaxed) }.reduce(0, +) == 1)
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(try rig.received().hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test("a backend that closes after part of its head: retried elsewhere, and none of its bytes reach the answer")
    func partialHeadThenClose() throws {
        let rig = try ProxyRig(backendCount: 2)
        try rig.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try rig.respond(0, "HTTP/1.1 500 Oops\r\nX-Partial: ")
        try rig.upstreams.channels[0].close().wait()
        #expect(rig.upstreams.channels.count == 2)
        try rig.respond(1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text)")
        #expect(!text.contains("X-Partial"))
        #expect(text.hasSuffix("\r\n\r\nok"))
    }

    @Test("a response head over 64 KiB, even trickled: 502 and the upstream closed")
    func oversizedResponseHead() throws {
        let rig = try ProxyRig()
        try rig.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try rig.respond(0, "HTTP/1.1 200 OK\r\n")
        for _ in 0..<70 { try rig.respond(0, "X-Filler: \(String(repeating: "f", count: 1000))\r\n") }
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(text.prefix(80))")
        #expect(text.contains("larger than 64 KiB"))
        #expect(!rig.upstreams.channels[0].isActive)
    }

    @Test("a POST is not retried: 502 naming the backend")
    func postNotRetried() throws {
        let rig = try ProxyRig(backendCount: 2)
        rig.upstreams.failures = [ChannelError.connectTimeout(.seconds(1)), ChannelError.connectTimeout(.seconds(1))]
        try rig.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        #expect(text.contains("connecting timed out"))
        // The body came with the head: it is dropped and the connection serves the next request.
        #expect(!text.contains("connection: close"))
        #expect(rig.client.isActive)
        try rig.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try rig.upstreamReceived(0).hasPrefix("GET / HTTP/1.1\r\n"))
    }

    @Test("a client that stops sending its body gets 408 and is closed; the backend is not blamed")
    func clientTooSlow() throws {
        let rig = try ProxyRig { $0.requestTimeout = .seconds(5) }
        try rig.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        #expect(try rig.upstreamReceived().hasSuffix("0123456789"))
        rig.loop.advanceTime(by: .seconds(6))
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(text)")
        #expect(text.contains("connection: close"))
        #expect(!text.contains("127.0.0.1:9100"))
        #expect(!rig.client.isActive)
        #expect(rig.backends[0].consecutiveFailures.load(ordering: .relaxed) == 0)
        #expect(!rig.upstreams.channels[0].isActive)  // half-sent request: never reused
    }

    @Test("a backend that does not answer in time: 504 naming it, counted, connection kept")
    func backendTimeout() throws {
        let rig = try ProxyRig { $0.requestTimeout = .seconds(5) }
        try rig.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        rig.loop.advanceTime(by: .seconds(6))
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        #expect(text.contains("backend 127.0.0.1:9100 did not respond within 5s"))
        #expect(rig.backends[0].consecutiveFailures.load(ordering: .relaxed) == 1)
        #expect(rig.client.isActive)
    }

    @Test("a reloaded request timeout leaves the request in flight alone and reaches the next one on the same connection")
    func reloadedTimeout() throws {
        let rig = try ProxyRig { $0.requestTimeout = .seconds(60) }
        try rig.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        var reloaded = rig.context.configuration
        reloaded.requestTimeout = .seconds(5)
        rig.context.install(reloaded)
        rig.loop.advanceTime(by: .seconds(6))
        #expect(try rig.received() == "")  // still the 60 s it started with
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(try rig.received().hasPrefix("HTTP/1.1 200 OK"))
        try rig.send("GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        rig.loop.advanceTime(by: .seconds(6))
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        #expect(text.contains("did not respond within 5s"))
    }

    @Test("bytes after an Upgrade head are not read on until the backend answers; a refusal keeps them as the next request")
    func upgradeRefused() throws {
        let rig = try ProxyRig()
        try rig.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        let forwarded = try rig.upstreamReceived()
        #expect(forwarded.contains("connection: upgrade\r\n"))
        #expect(forwarded.contains("Upgrade: echo\r\n"))
        #expect(!forwarded.contains("/next"))
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno")
        #expect(try rig.upstreamReceived().hasPrefix("GET /next HTTP/1.1\r\n"))
        try rig.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes")
        let text = try rig.received()
        #expect(text.contains("\r\n\r\nno"))
        #expect(text.hasSuffix("\r\n\r\nyes"))
    }

    @Test("an HTTP/1.0 client gets a chunked response de-chunked, then the connection closes; Via names the 1.0 it spoke")
    func http10Dechunked() throws {
        let rig = try ProxyRig()
        try rig.send("GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        #expect(try rig.upstreamReceived().contains("\r\nvia: 1.0 tugboat\r\n"))
        try rig.respond(0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(!text.lowercased().contains("transfer-encoding"))
        #expect(text.contains("connection: close\r\n"))
        #expect(text.hasSuffix("\r\n\r\nhello world"))
        #expect(!rig.client.isActive)
    }

    @Test("a response with both Content-Length and Transfer-Encoding: 502, upstream closed", arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx",
        "HTTP/1.1 200 OK\r\nX: a\u{0}b\r\n\r\n",
    ])
    func badResponse(response: String) throws {
        let rig = try ProxyRig()
        try rig.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try rig.respond(0, response)
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(text)")
        #expect(!rig.upstreams.channels[0].isActive)
        #expect(rig.client.isActive)
    }

    @Test("a head not complete within the header timeout gets 408; an idle connection is closed silently")
    func headAndIdleTimeouts() throws {
        let rig = try ProxyRig { $0.headerTimeout = .seconds(10); $0.idleTimeout = .seconds(75) }
        try rig.send("GET / HTTP/1.1\r\n")
        rig.loop.advanceTime(by: .seconds(5))
        try rig.send("X-A: 1\r\n")  // trickling does not extend it
        #expect(rig.client.isActive)
        rig.loop.advanceTime(by: .seconds(5))
        #expect(try rig.received().hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(!rig.client.isActive)

        let idle = try ProxyRig { $0.idleTimeout = .seconds(75) }
        try idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        idle.loop.advanceTime(by: .seconds(60))  // a slow backend is not the idle timeout's business
        try idle.respond(0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        idle.loop.advanceTime(by: .seconds(74))
        #expect(idle.client.isActive)
        idle.loop.advanceTime(by: .seconds(2))
        #expect(!idle.client.isActive)
    }

    @Test("no healthy backend: 503 with a clear body, the connection stays open", arguments: [0])
    func noBackend(_: Int) throws {
        let rig = try ProxyRig(backendCount: 0)
        try rig.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(text.hasSuffix("tugboat: no healthy backend to serve this request\n"))
        #expect(text.contains("x-request-id: "))
        #expect(rig.client.isActive)
        try rig.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try rig.received().contains("connection: close"))
        #expect(!rig.client.isActive)
    }

    @Test("refused requests get their status and the connection closes", arguments: [
        ("NOT HTTP AT ALL\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        ("GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ("GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 65 * 1024))\r\n\r\n", 431),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    ])
    func refused(request: String, status: Int) throws {
        let rig = try ProxyRig()
        try rig.send(request)
        let text = try rig.received()
        #expect(text.hasPrefix("HTTP/1.1 \(status) "), "\(text.prefix(80))")
        #expect(text.contains("connection: close"))
        #expect(!rig.client.isActive)
        #expect(rig.upstreams.channels.isEmpty)
    }
}
