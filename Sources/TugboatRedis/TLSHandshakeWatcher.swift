import NIOCore
import NIOSSL
import NIOTLS

/// `rediss://`: completes `outcome` once the TLS handshake is done (the server's certificate and
/// name accepted), or fails it with the TLS error — so a refused server is reported as such before
/// any command is sent, not as a lost connection. Other endings (a connection closed) are left to
/// the connect, which watches the channel it got: with happy eyeballs the losing attempts share
/// this promise and must not decide it.
final class TLSHandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var outcome: EventLoopPromise<Void>?

    init(_ outcome: EventLoopPromise<Void>) { self.outcome = outcome }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent { self.finish(nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if Self.refusal(error) != nil { self.finish(error) }
        context.fireErrorCaught(error)
    }

    private func finish(_ error: (any Error)?) {
        guard let outcome = self.outcome else { return }
        self.outcome = nil
        if let error { outcome.fail(error) } else { outcome.succeed() }
    }

    /// Why TLS refused the server: the handshake (its certificate) or the name check after it.
    static func refusal(_ error: any Error) -> String? {
        if case .handshakeFailed(let reason)? = error as? NIOSSLError { return "\(reason)" }
        if let nameOrSetup = error as? NIOSSLExtraError { return "\(nameOrSetup)" }
        return nil
    }
}
