import NIOCore
import NIOPosix
import TugboatCore
import TugboatNetwork

/// Opens new connections to a backend on a given event loop. The data plane dials sockets; tests
/// inject one that hands out `EmbeddedChannel`s, so the whole exchange runs without sockets.
protocol UpstreamConnector {
    func connect(to backend: ProxyBackend, on eventLoop: EventLoop) -> EventLoopFuture<UpstreamHandler>
}

/// Dials a TCP connection on the client's own event loop (as swift-nio-examples' connect-proxy does).
/// One per event loop, only used on it: a reload changes its connect timeout in place.
final class SocketUpstreamConnector: UpstreamConnector {
    var connectTimeout: TimeAmount
    /// `pool.tls`: the backends speak TLS.
    let tls: BackendTLS?

    init(connectTimeout: TimeAmount, tls: BackendTLS?) {
        self.connectTimeout = connectTimeout
        self.tls = tls
    }

    func connect(to backend: ProxyBackend, on eventLoop: EventLoop) -> EventLoopFuture<UpstreamHandler> {
        let tls = self.tls
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            .channelOption(.recvAllocator, value: UpstreamHandler.readAllocator)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { [tls] in
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.handler(for: backend.address.host)) }
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(backend: backend, spliceable: tls == nil))
                }
            }
            .connect(to: backend.socketAddress)
            .flatMapThrowing { channel in
                try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            }
    }
}
