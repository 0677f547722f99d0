import CProxyIO
import Logging
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import TugboatCore

/// The public listener. On graceful shutdown it stops accepting, lets in-flight requests finish
/// for up to `drain`, then returns.
package final class ProxyServer: Service, Sendable {
    private let dataPlane: ProxyDataPlane
    private let logger: Logger
    private let quiesce: ServerQuiescingHelper
    private let boundChannel = Mutex<Channel?>(nil)
    /// With `tls:`, the listener's TLS context (the certificate is picked per handshake from the book).
    private let tls: NIOSSLContext?
    /// `tls.acme.challenge: tls-alpn-01`: the validations answered on this listener.
    private let tlsALPNChallenges: ACMEChallenges?

    /// Seamless upgrade: when another Tugboat holds the address at start, the listener is bound
    /// (and new connections steered to it) only once `ready` returns — the pool has settled — and
    /// then `done` runs (systemd hears `READY=1`).
    private let takeover: Takeover?

    package struct Takeover: Sendable {
        let ready: @Sendable () async -> Void
        let done: @Sendable () -> Void

        package init(whenReady ready: @escaping @Sendable () async -> Void, then done: @escaping @Sendable () -> Void) {
            self.ready = ready
            self.done = done
        }
    }

    package init(dataPlane: ProxyDataPlane, logger: Logger, certificates: CertificateBook? = nil, takeover: Takeover? = nil,
                 tlsALPNChallenges: ACMEChallenges? = nil) throws {
        self.takeover = takeover
        self.tlsALPNChallenges = tlsALPNChallenges
        self.tls = try certificates.map { try NIOSSLContext(configuration: $0.serverConfiguration(http2: dataPlane.configuration.http2)) }
        if let tls, let certificates, !OCSPStaplingHook.install(on: tls, book: certificates) {
            logger.warning("OCSP stapling is not available with this build's swift-nio-ssl: handshakes go on without it")
        }
        self.dataPlane = dataPlane
        self.logger = logger
        self.quiesce = ServerQuiescingHelper(group: dataPlane.group)
    }

    /// Binds the listener (if not yet bound) and returns its address (the real port when 0 was asked for).
    @discardableResult
    package func bind() async throws -> SocketAddress {
        if let channel = boundChannel.withLock({ $0 }) { return channel.localAddress! }
        let configuration = dataPlane.configuration
        let dataPlane = self.dataPlane
        let tls = self.tls
        let channel = try await ListenerHandover.reusingPort(ServerBootstrap(group: dataPlane.group))
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelInitializer { [quiesce] channel in
                channel.eventLoop.makeCompletedFuture {
                    // Out of descriptors (EMFILE): stop accepting for a moment instead of spinning.
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler(shouldForwardIOErrorCaught: false))
                    try channel.pipeline.syncOperations.addHandler(quiesce.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: Self.clientWaterMark)
            .childChannelOption(.maxMessagesPerRead, value: Self.clientMessagesPerRead)
            .childChannelOption(.recvAllocator, value: Self.clientReadAllocator)
            .childChannelInitializer { [tlsALPNChallenges] channel in
                channel.eventLoop.makeCompletedFuture {
                    let loop = dataPlane.context(for: channel.eventLoop)
                    guard Self.admit(channel, tls: tls, dataPlane: dataPlane, loop: loop) else { return }
                    // A TLS handshake, ClientHello included, is done within the header timeout of the accept.
                    let handshakeDeadline = NIODeadline.now() + loop.configuration.headerTimeout
                    if let tls, tlsALPNChallenges != nil || loop.spreader != nil {
                        try channel.pipeline.syncOperations.addHandler(ClientHelloHandler(timeout: loop.configuration.headerTimeout) { hello, context, bytes in
                            try Self.afterClientHello(hello, context: context, bytes: bytes, tls: tls, challenges: tlsALPNChallenges,
                                                      dataPlane: dataPlane, loop: loop, handshakeDeadline: handshakeDeadline)
                        })
                    } else {
                        try Self.configureAdmittedChannel(channel, tls: tls, dataPlane: dataPlane, loop: loop, handshakeDeadline: handshakeDeadline)
                    }
                }
            }
            .bind(host: configuration.listen.host, port: configuration.listen.port)
            .get()
        boundChannel.withLock { $0 = channel }
        await ListenerHandover.steerNewConnections(to: channel, logger: logger)
        let address = channel.localAddress!
        logger.info("proxy listening", metadata: ["listen.address": "\(address.ipAddress ?? "?"):\(address.port ?? 0)"])
        return channel.localAddress!
    }

    /// Takes a slot under `max-connections` for a new client connection (released when it closes),
    /// or sets it up to be refused (a 503, over TLS on a TLS listener). The loop's copy of the
    /// setting: it may have been reloaded since the bind.
    private static func admit(_ channel: Channel, tls: NIOSSLContext?, dataPlane: ProxyDataPlane, loop: LoopContext) -> Bool {
        if dataPlane.connections.admit(max: loop.configuration.maxConnections) {
            channel.closeFuture.whenComplete { _ in dataPlane.connections.release() }
            return true
        }
        if let tls { try? channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
        try? channel.pipeline.syncOperations.addHandler(OverCapacityHandler())
        return false
    }

    /// An admitted client connection's pipeline: TLS (with `tls:`), then the HTTP/1.1 handler or,
    /// with TLS and HTTP/2, the ALPN negotiation that picks one (the handshake closed at
    /// `handshakeDeadline` if it is not done; HTTP/1.1's own header timeout covers the rest).
    private static func configureAdmittedChannel(_ channel: Channel, tls: NIOSSLContext?, dataPlane: ProxyDataPlane, loop: LoopContext,
                                                 handshakeDeadline: NIODeadline) throws {
        guard let tls else { return try configureClientPipeline(channel, loop: loop, plainSocket: true) }
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
        guard dataPlane.configuration.http2 else { return try configureClientPipeline(channel, loop: loop, plainSocket: false) }
        // The protocol is known once the handshake is done; until then the deadline bounds it.
        let handshakeTimer = channel.eventLoop.scheduleTask(deadline: handshakeDeadline) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in handshakeTimer.cancel() }
        try channel.pipeline.syncOperations.addHandler(
            HTTP2Front.negotiationHandler(loop: loop, settings: dataPlane.configuration.http2Settings, handshakeTimer: handshakeTimer))
    }

    /// A TLS connection's ClientHello is read: an ACME TLS-ALPN-01 validation gets its own
    /// handshake; under `threads: auto` an HTTP/2 connection (ALPN `h2` offered) starts on the loop
    /// the spreader places it on — its socket handed there with the ClientHello, before the
    /// handshake, unless the open connections are within a tenth of `max-connections` (a move
    /// holds a second descriptor for a moment, as between requests); everything else gets the
    /// usual pipeline here.
    private static func afterClientHello(_ hello: ClientHelloPeek.Outcome, context: ChannelHandlerContext, bytes: ByteBuffer,
                                         tls: NIOSSLContext, challenges: ACMEChallenges?, dataPlane: ProxyDataPlane,
                                         loop: LoopContext, handshakeDeadline: NIODeadline) throws -> ClientHelloHandler.Next {
        let channel = context.channel
        if let challenges, try TLSALPNValidation.answer(hello, challenges: challenges, on: channel) { return .here }
        guard let spreader = loop.spreader, case .hello(_, let protocols) = hello, protocols.contains(HTTP2Front.protocolName) else {
            try configureAdmittedChannel(channel, tls: tls, dataPlane: dataPlane, loop: loop, handshakeDeadline: handshakeDeadline)
            return .here
        }
        let counts = dataPlane.connections
        let placed = spreader.placeHTTP2(arrivingOn: loop.index, mayMove: counts.roomToMove(max: loop.configuration.maxConnections))
        let stays: Int  // the loop counted for it if it stays here
        if placed == loop.index {
            stays = placed
        } else {
            let duplicate = try? channel.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { tugboat_dup($0) }
            if let fd = duplicate ?? nil, fd >= 0 {
                counts.hold()
                context.close(promise: nil)
                spreader.adopt(fd, onLoop: placed, counts: counts, handshake: .init(firstBytes: bytes) { channel, loop in
                    channel.closeFuture.whenComplete { _ in spreader.http2Closed(onLoop: placed) }
                    try configureAdmittedChannel(channel, tls: tls, dataPlane: dataPlane, loop: loop, handshakeDeadline: handshakeDeadline)
                })
                return .taken
            }
            spreader.http2Closed(onLoop: placed)
            stays = spreader.placeHTTP2(arrivingOn: loop.index, mayMove: false)
        }
        channel.closeFuture.whenComplete { _ in spreader.http2Closed(onLoop: stays) }
        try configureAdmittedChannel(channel, tls: tls, dataPlane: dataPlane, loop: loop, handshakeDeadline: handshakeDeadline)
        return .here
    }

    static let clientWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 * 1024, high: 256 * 1024)
    static let clientMessagesPerRead: UInt = 16
    /// NIO keeps each connection's last receive buffer for its next read: start small (a request
    /// head fits; the allocator grows for bodies), so 10,000 idle keep-alive connections do not
    /// hold 2 KiB each.
    static let clientReadAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536)

    /// The client side is one handler: the byte-level HTTP/1.1 path, no codec. `plainSocket`: no
    /// TLS in front of it (responses are written to the socket directly).
    static func configureClientPipeline(_ channel: Channel, loop: LoopContext, plainSocket: Bool) throws {
        try channel.pipeline.syncOperations.addHandler(ProxyHandler(loop: loop, plainSocket: plainSocket))
    }

    /// Binds now, unless another process holds the address and a takeover is set up: then `run`
    /// binds once the pool is ready. Returns whether binding was put off.
    package func bindUnlessTakingOver() async throws -> Bool {
        if takeover != nil, ListenerHandover.heldByAnotherTugboat(dataPlane.configuration.listen) {
            logger.info("another process listens on the address: taking over once the pool is ready",
                        metadata: ["listen.address": "\(dataPlane.configuration.listen)"])
            return true
        }
        try await bind()
        return false
    }

    package func run() async throws {
        if boundChannel.withLock({ $0 == nil }), let takeover {
            await cancelWhenGracefulShutdown { await takeover.ready() }
            if Task.isShuttingDownGracefully { return }
            try await bind()
            takeover.done()
        } else {
            try await bind()
        }
        try? await gracefulShutdown()
        await drain()
    }

    /// Stops accepting and waits up to `drain` for open connections to finish their requests.
    func drain() async {
        let drainTime = dataPlane.configuration.drain
        logger.info("proxy draining", metadata: ["drain.timeout": "\(DurationParser.format(drainTime))"])
        let promise = dataPlane.group.next().makePromise(of: Void.self)
        quiesce.initiateShutdown(promise: promise)
        dataPlane.quiesceParkedConnections()
        let connections = dataPlane.connections
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                guard (try? await promise.futureResult.get()) != nil else { return false }
                // The accepted connections are done; parked ones and those back from parking too?
                return await DrainWait.until(within: drainTime, every: .milliseconds(20)) { connections.open == 0 }
            }
            group.addTask {
                try? await Task.sleep(for: drainTime)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        dataPlane.shutdown()
        if finished {
            logger.info("proxy drained")
        } else {
            logger.warning("proxy drain time ended with requests still in flight; closing them")
        }
    }
}
