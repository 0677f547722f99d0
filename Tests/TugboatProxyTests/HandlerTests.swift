import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing
import TugboatCore
@testable import TugboatProxy

@Suite("Request head guard and malformed requests (EmbeddedChannel)")
struct HandlerTests {
    func outbound(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test("a head not complete within the header timeout gets 408 and the connection closes")
    func headerTimeout() throws {
        let loop = EmbeddedEventLoop()
        let guardHandler = RequestHeadGuard(headerTimeout: .seconds(10), idleTimeout: .seconds(75))
        let channel = EmbeddedChannel(handler: guardHandler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
        loop.advanceTime(by: .seconds(5))
        try channel.writeInbound(ByteBuffer(string: "X-A: 1\r\n"))  // trickling does not extend it
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(5))
        #expect(try outbound(channel).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(!channel.isActive)
    }

    @Test("once the head is in, no header timeout; after the response the idle timeout applies")
    func idleAfterResponse() throws {
        let loop = EmbeddedEventLoop()
        let guardHandler = RequestHeadGuard(headerTimeout: .seconds(10), idleTimeout: .seconds(75))
        let channel = EmbeddedChannel(handler: guardHandler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n"))
        guardHandler.headReceived()
        loop.advanceTime(by: .seconds(60))  // a slow backend is not the client's fault
        #expect(channel.isActive)
        guardHandler.responseCompleted()
        loop.advanceTime(by: .seconds(74))
        #expect(channel.isActive)
        loop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
        #expect(try outbound(channel) == "")  // idle close is silent
    }

    /// The real client pipeline (`ProxyServer.configureClientPipeline`) on an EmbeddedChannel, no backends.
    func clientPipeline() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let configuration = ProxyConfiguration(TugboatConfig())
        let loop = LoopContext(eventLoop: channel.eventLoop, configuration: configuration) { _, _ in }
        try ProxyServer.configureClientPipeline(channel, loop: loop, configuration: configuration)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test("no healthy backend: 503 with a clear body, and the connection stays open for the next request")
    func noBackend() throws {
        let channel = try clientPipeline()
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
        let text = try outbound(channel)
        #expect(text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(text.hasSuffix("tugboat: no healthy backend to serve this request\n"))
        #expect(text.contains("x-request-id: "))
        #expect(channel.isActive)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        #expect(try outbound(channel).contains("connection: close"))
        #expect(!channel.isActive)
    }

    @Test("malformed request line -> 400 and close", arguments: [
        "NOT HTTP AT ALL\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ])
    func malformed(request: String) throws {
        let channel = try clientPipeline()
        _ = try? channel.writeInbound(ByteBuffer(string: request))
        let text = try outbound(channel)
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(text)")
        #expect(text.contains("connection: close"))
        #expect(!channel.isActive)
    }

    @Test("a head over 64 KiB -> 431 and close")
    func tooLarge() throws {
        let channel = try clientPipeline()
        _ = try? channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 65 * 1024))\r\n\r\n"))
        #expect(try outbound(channel).hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(!channel.isActive)
    }
}
