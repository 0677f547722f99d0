import NIOCore
import NIOPosix

/// A client socket taken out of its channel comes back as a new channel on an event loop: a
/// parked connection whose client spoke (ParkingLot.swift), one moved to another loop between
/// requests (LoopSpreader.swift), or a TLS connection placed on another loop before its handshake.
enum SocketAdoption {
    /// A TLS connection moved before its handshake: the bytes already read from it (its
    /// ClientHello), and the pipeline it gets on its new loop.
    struct Handshake: Sendable {
        var firstBytes: ByteBuffer
        var configure: @Sendable (Channel, LoopContext) throws -> Void
    }

    /// `fd` (a client connection's socket, counted open in `counts`) becomes a connection on
    /// `context`'s event loop, with a fresh handler (or `handshake`'s pipeline, which reads its
    /// first bytes before anything from the socket), and reads what the client sent.
    static func adopt(_ fd: Int32, into context: LoopContext, counts: ConnectionCounts, handshake: Handshake? = nil) {
        // The initializer runs on `context`'s own loop (the bootstrap's group is that one loop).
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.writeBufferWaterMark, value: ProxyServer.clientWaterMark)
            .channelOption(.maxMessagesPerRead, value: ProxyServer.clientMessagesPerRead)
            .channelOption(.recvAllocator, value: ProxyServer.clientReadAllocator)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let context = loopBound.value
                    channel.closeFuture.whenComplete { _ in counts.release() }
                    if let handshake {
                        try channel.pipeline.syncOperations.addHandler(ReplayFirstBytes(handshake.firstBytes))
                        try handshake.configure(channel, context)
                    } else {
                        try ProxyServer.configureClientPipeline(channel, loop: context, plainSocket: true)
                    }
                }
            }
            .withConnectedSocket(fd)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel): context.adopted(channel)
                // The channel closed the socket (and the count was released) unless the socket was
                // refused outright, which a socket that was one a moment ago is not.
                case .failure: break
                }
            }
    }
}

/// First on an adopted channel whose first bytes were read on another loop: passes them on as
/// soon as the channel is active, before the socket is read (a loop reads a new channel's socket
/// only on a later turn), then leaves.
private final class ReplayFirstBytes: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private var bytes: ByteBuffer?

    init(_ bytes: ByteBuffer) { self.bytes = bytes }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        guard let bytes else { return }
        self.bytes = nil
        context.fireChannelRead(wrapInboundOut(bytes))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
