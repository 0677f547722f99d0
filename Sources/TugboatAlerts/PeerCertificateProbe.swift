import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Reads when the certificate an `https://` monitor's server presents expires: one TLS handshake,
/// nothing sent. The monitor's own check verifies the certificate; this only reads its date.
enum PeerCertificateProbe {
    struct NoCertificate: Error, CustomStringConvertible { var description: String { "the server sent no certificate" } }

    static func notAfter(host: String, port: Int, timeout: Duration, group: EventLoopGroup) async throws -> Date {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        let context = try NIOSSLContext(configuration: configuration)
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        let loop = group.next()
        let done = loop.makePromise(of: Date.self)
        let channel = try await ClientBootstrap(group: loop)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(tls: tls, done: done))
                }
            }
            .connect(host: host, port: port).get()
        let timer = loop.scheduleTask(in: .nanoseconds(timeout.nanoseconds)) { done.fail(ChannelError.connectTimeout(.nanoseconds(timeout.nanoseconds))) }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await done.futureResult.get()
    }

    private final class HandshakeWatcher: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let tls: NIOSSLClientHandler
        let done: EventLoopPromise<Date>

        init(tls: NIOSSLClientHandler, done: EventLoopPromise<Date>) {
            self.tls = tls
            self.done = done
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted = event as? TLSUserEvent {
                if let certificate = tls.peerCertificate {
                    done.succeed(Date(timeIntervalSince1970: TimeInterval(certificate.notValidAfter)))
                } else {
                    done.fail(NoCertificate())
                }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) { done.fail(error) }
        func channelInactive(context: ChannelHandlerContext) { done.fail(ChannelError.eof) }
    }
}
