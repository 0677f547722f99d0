import NIOCore
import NIOSSL
import NIOTLS

/// First on a TLS connection while `tls.acme.challenge` is `tls-alpn-01`: reads the ClientHello
/// before any TLS context is chosen (``ClientHelloPeek``). An ACME validation of a name being
/// validated now gets the validation certificate in a handshake of its own (ALPN `acme-tls/1`) and
/// the connection is closed after it, as RFC 8737 says; every other connection gets the usual
/// pipeline (`continueNormally`), the bytes read so far passed on unchanged. Waiting for the
/// ClientHello is bounded in time (`timeout`) and size (one TLS record).
final class TLSALPNChallengeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let challenges: ACMEChallenges
    private let timeout: TimeAmount
    private let continueNormally: (Channel) throws -> Void
    private var buffered: ByteBuffer?
    private var timer: Scheduled<Void>?
    private var decided = false

    init(challenges: ACMEChallenges, timeout: TimeAmount, continueNormally: @escaping (Channel) throws -> Void) {
        self.challenges = challenges
        self.timeout = timeout
        self.continueNormally = continueNormally
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
        do {
            if case .hello(let serverName, let protocols) = outcome,
               let validation = challenges.validationContext(serverName: serverName, protocols: protocols) {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: validation))
                try context.pipeline.syncOperations.addHandler(CloseAfterHandshake())
            } else {
                try continueNormally(context.channel)
            }
        } catch {
            context.close(promise: nil)
            return
        }
        let pending = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(pending))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
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
