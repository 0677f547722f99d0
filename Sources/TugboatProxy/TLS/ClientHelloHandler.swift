import NIOCore
import NIOSSL
import NIOTLS

/// First on a TLS connection when something is decided before the handshake: reads the
/// ClientHello (``ClientHelloPeek``) — bounded in time (`timeout`, then the connection is closed)
/// and size (one TLS record) — and hands it to `decide`, which either sets up this channel's
/// pipeline (`.here`: the bytes read so far are then passed on unchanged) or has taken the
/// connection elsewhere (`.taken`: this channel is closed, its socket lives on on another loop).
/// Two things decide there: an ACME TLS-ALPN-01 validation (``TLSALPNValidation``), and where an
/// HTTP/2 connection starts under `threads: auto` (``LoopSpread/http2Placement(connections:placedSinceSample:burst:)``).
final class ClientHelloHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Next { case here, taken }

    private let timeout: TimeAmount
    private let decide: (ClientHelloPeek.Outcome, ChannelHandlerContext, ByteBuffer) throws -> Next
    private var buffered: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var decided = false

    init(timeout: TimeAmount, decide: @escaping (ClientHelloPeek.Outcome, ChannelHandlerContext, ByteBuffer) throws -> Next) {
        self.timeout = timeout
        self.decide = decide
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !decided else { return context.fireChannelRead(data) }
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        let outcome = ClientHelloPeek.peek(buffered!.readableBytesView)
        if outcome == .needMore && buffered!.readableBytes < ClientHelloPeek.maximumBytes { return }
        decided = true
        timer?.cancel()
        let pending = buffered!
        buffered = nil
        let next: Next
        do {
            next = try decide(outcome, context, pending)
        } catch {
            context.close(promise: nil)
            return
        }
        guard next == .here else { return }
        context.fireChannelRead(wrapInboundOut(pending))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// `tls.acme.challenge: tls-alpn-01`: a ClientHello offering ALPN `acme-tls/1` alone, for a name
/// being validated now, gets the validation certificate in a handshake of its own, and the
/// connection is closed after it, as RFC 8737 says.
enum TLSALPNValidation {
    /// Sets up the validation handshake on `channel` when `outcome` is one; false otherwise.
    static func answer(_ outcome: ClientHelloPeek.Outcome, challenges: ACMEChallenges, on channel: Channel) throws -> Bool {
        guard case .hello(let serverName, let protocols) = outcome,
              let validation = challenges.validationContext(serverName: serverName, protocols: protocols) else { return false }
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: validation))
        try channel.pipeline.syncOperations.addHandler(CloseAfterHandshake())
        return true
    }
}

/// After a TLS-ALPN-01 validation handshake: nothing more is served on the connection.
private final class CloseAfterHandshake: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
