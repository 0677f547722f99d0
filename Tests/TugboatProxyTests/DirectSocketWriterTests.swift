import Glibc
import NIOCore
import NIOPosix
import Testing
import TestSupport
@testable import TugboatProxy

/// `DirectSocketWriter` on a real TCP connection (NIO's channel on one end, a raw socket the test
/// reads on the other): what the socket does not take goes through the channel, and nothing
/// overtakes it.
@Suite("DirectSocketWriter on a real socket")
struct DirectSocketWriterTests {
    /// The writer inside a channel, as the proxy's handlers hold it.
    final class WritingHandler: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        var socket = DirectSocketWriter()
        var context: ChannelHandlerContext?
        let direct: Bool
        init(direct: Bool) { self.direct = direct }
        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
            if direct { socket.attach(to: context) }
        }
        func handlerRemoved(context: ChannelHandlerContext) { socket.detach() }
        func send(_ bytes: ByteBuffer) {
            guard let context else { return }
            socket.write(bytes, context: context)
            socket.flush(context: context)
        }
    }

    /// A connected pair: the writer's channel, and the raw socket at the other end.
    static func connect(_ handler: WritingHandler, group: EventLoopGroup) async throws -> (Channel, Int32) {
        let (listener, port) = try #require(listenOnLoopback())
        defer { close(listener) }
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_sndbuf), value: 16 * 1024)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let peer = accept(listener, nil, nil)
        try #require(peer >= 0)
        return (channel, peer)
    }

    /// Reads from `fd` without waiting until nothing is there.
    static func drain(_ fd: Int32) -> [UInt8] {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            guard n > 0 else { return received }
            received += chunk[0..<n]
        }
    }

    /// Reads from `fd`, blocking, until `count` bytes came or `seconds` passed (no polling: a
    /// test starved of threads still reads everything in one go).
    static func receive(_ fd: Int32, count: Int, within seconds: Double = 30) -> [UInt8] {
        var limit = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let end = ContinuousClock.now + .seconds(seconds)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while received.count < count && ContinuousClock.now < end {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - received.count), 0) }
            if n > 0 { received += chunk[0..<n] } else if n == 0 { break }
        }
        return received
    }

    @Test("bytes written while the channel still holds earlier ones wait behind them, even once the socket has room")
    func nothingOvertakes() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let handler = WritingHandler(direct: true)
        let (channel, peer) = try await Self.connect(handler, group: group)
        defer { close(peer) }
        let first = ByteBuffer(repeating: UInt8(ascii: "a"), count: 4 * 1024 * 1024)
        let second = ByteBuffer(repeating: UInt8(ascii: "b"), count: 1000)
        let early = try await channel.eventLoop.submit {
            #expect(handler.socket.isDirect)
            // More than the socket takes: part of it goes out directly, the rest to the channel.
            handler.send(first)
            // Room in the socket again, before the channel hears of it (this task holds its loop).
            let early = Self.drain(peer)
            let socket = try channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { $0 }
            var writable = pollfd(fd: socket ?? -1, events: Int16(POLLOUT), revents: 0)
            #expect(poll(&writable, 1, 5000) == 1, "the socket never had room again")
            handler.send(second)
            return early
        }.get()
        #expect(early.count > 0 && early.count < first.readableBytes, "the socket took all or nothing: \(early.count)")
        let total = first.readableBytes + second.readableBytes
        let received = early + Self.receive(peer, count: total - early.count)
        #expect(received.count == total)
        let firstB = received.firstIndex(of: UInt8(ascii: "b"))
        #expect(firstB == first.readableBytes, "the second write overtook the first at byte \(firstB ?? -1)")
        try await channel.close()
        try await group.shutdownGracefully()
    }

    @Test("a peer that is gone: the write error closes the channel as NIO's own write would; nothing is written after")
    func peerGone() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let handler = WritingHandler(direct: true)
        let (channel, peer) = try await Self.connect(handler, group: group)
        var linger = linger(l_onoff: 1, l_linger: 0)  // close with a reset
        setsockopt(peer, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        close(peer)
        let bytes = ByteBuffer(repeating: 0x78, count: 1024)
        try await waitUntil("the channel closed after a failed write") {
            try await channel.eventLoop.submit { handler.send(bytes) }.get()
            return !channel.isActive
        }
        try await channel.closeFuture.get()
        try await channel.eventLoop.submit {
            #expect(!handler.socket.isDirect, "still writing to the descriptor of a closed channel")
        }.get()
        try await group.shutdownGracefully()
    }

    @Test("without attach (TLS in the pipeline, tests on EmbeddedChannel) every write goes through the channel")
    func channelOnly() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let handler = WritingHandler(direct: false)
        let (channel, peer) = try await Self.connect(handler, group: group)
        defer { close(peer) }
        let text = ByteBuffer(string: "through the channel")
        try await channel.eventLoop.submit {
            #expect(!handler.socket.isDirect)
            handler.send(text)
        }.get()
        let received = Self.receive(peer, count: text.readableBytes)
        #expect(String(decoding: received, as: UTF8.self) == "through the channel")
        try await channel.close()
        try await group.shutdownGracefully()
    }
}
