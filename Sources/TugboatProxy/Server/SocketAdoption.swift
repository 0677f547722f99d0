import NIOCore
import NIOPosix

/// A client socket taken out of its channel comes back as a new channel on an event loop: a
/// parked connection whose client spoke (ParkingLot.swift), or one moved to another loop
/// (LoopSpreader.swift).
enum SocketAdoption {
    /// `fd` (a client connection's socket, counted open in `counts`) becomes a connection on
    /// `context`'s event loop, with a fresh handler, and reads what the client sent.
    static func adopt(_ fd: Int32, into context: LoopContext, counts: ConnectionCounts) {
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.writeBufferWaterMark, value: ProxyServer.clientWaterMark)
            .channelOption(.maxMessagesPerRead, value: ProxyServer.clientMessagesPerRead)
            .channelOption(.recvAllocator, value: ProxyServer.clientReadAllocator)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    channel.closeFuture.whenComplete { _ in counts.release() }
                    try ProxyServer.configureClientPipeline(channel, loop: context, plainSocket: true)
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
