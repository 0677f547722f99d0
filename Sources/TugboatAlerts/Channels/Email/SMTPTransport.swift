import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import TugboatCore

/// The I/O of one SMTP delivery on SwiftNIO: connect, run an ``SMTPConversation`` over the
/// connection (putting TLS under it when told), all within one deadline. Every decision is the
/// conversation's; this file only moves bytes.
enum SMTPTransport {
    struct Server: Sendable {
        var host: String
        var port: Int
        /// PEM trust roots added to the system's (a private CA, a self-signed server).
        var caFile: String?
    }

    static func deliver(to server: Server, settings: SMTPConversation.Settings, timeout: Duration,
                        group: any EventLoopGroup) async throws(DeliveryError) {
        let name = "SMTP \(HostPort(host: server.host, port: server.port))"
        let tls: NIOSSLContext?
        do {
            tls = try tlsContext(server.caFile)
        } catch {
            throw .permanent("\(name): TLS setup: \(ErrorText.short(error))")
        }
        let eventLoop = group.next()
        let deadline = NIODeadline.now() + .nanoseconds(timeout.nanoseconds)
        let outcome = eventLoop.makePromise(of: Void.self)
        let serverHostname = isIPAddress(server.host) ? nil : server.host
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if settings.security == .implicitTLS, let tls {
                        try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try sync.addHandler(SMTPClientHandler(settings: settings, tls: tls, serverHostname: serverHostname,
                                                          deadline: deadline, outcome: outcome, name: name))
                }
            }
        do {
            _ = try await bootstrap.connect(host: server.host, port: server.port).get()
        } catch {
            outcome.fail(error)
            throw .retryable("\(name): connect: \(ErrorText.short(error))")
        }
        do {
            try await outcome.futureResult.get()
        } catch let error as DeliveryError {
            throw error
        } catch {
            throw .retryable("\(name): \(ErrorText.short(error))")
        }
    }

    private static func tlsContext(_ caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            configuration.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caFile))]
        }
        return try NIOSSLContext(configuration: configuration)
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// Feeds the server's replies to the conversation and carries out its actions.
final class SMTPClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var settings: SMTPConversation.Settings
    private var conversation: SMTPConversation
    private var parser = SMTPReplyParser()
    private let tls: NIOSSLContext?
    private let serverHostname: String?
    private let deadline: NIODeadline
    private let outcome: EventLoopPromise<Void>
    private let name: String
    private var settled = false
    private var timer: Scheduled<Void>?
    private var lastWrite: EventLoopFuture<Void>?

    init(settings: SMTPConversation.Settings, tls: NIOSSLContext?, serverHostname: String?, deadline: NIODeadline,
         outcome: EventLoopPromise<Void>, name: String) {
        self.settings = settings
        self.conversation = SMTPConversation(settings: settings)
        self.tls = tls
        self.serverHostname = serverHostname
        self.deadline = deadline
        self.outcome = outcome
        self.name = name
    }

    func channelActive(context: ChannelHandlerContext) {
        // EHLO names this end by its address literal (RFC 5321 §4.1.3).
        if let ip = context.channel.localAddress?.ipAddress {
            settings.clientName = ip.contains(":") ? "[IPv6:\(ip)]" : "[\(ip)]"
            conversation = SMTPConversation(settings: settings)
        }
        let channel = context.channel
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            settle(.failure(DeliveryError.retryable("\(name): no answer in time (during \(conversation.step))")), channel: channel)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !settled || conversation.stage == .quit else { return }
        let buffer = unwrapInboundIn(data)
        let replies: [SMTPReply]
        do {
            replies = try parser.feed(buffer.readableBytesView)
        } catch {
            return settle(.failure(DeliveryError.retryable("\(name): the server sent \(error)")), channel: context.channel)
        }
        for (index, reply) in replies.enumerated() {
            let actions = conversation.received(reply)
            if actions.contains(.startTLS), index < replies.count - 1 || parser.hasBufferedInput {
                // Bytes after the STARTTLS reply would be plaintext passed off as part of the TLS session.
                return settle(.failure(DeliveryError.retryable("\(name): the server sent data after its STARTTLS reply")),
                              channel: context.channel)
            }
            perform(actions, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            perform(conversation.tlsEstablished(), context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        settle(.failure(DeliveryError.retryable("\(name): \(conversation.step): \(ErrorText.short(error))")), channel: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle(.failure(DeliveryError.retryable("\(name): the server closed the connection (during \(conversation.step))")),
               channel: context.channel)
        timer?.cancel()
        context.fireChannelInactive()
    }

    private func perform(_ actions: [SMTPConversation.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let line):
                write(line + "\r\n", context: context)
            case .sendData(let message):
                write(message, context: context)
            case .startTLS:
                guard let tls else { return settle(.failure(DeliveryError.permanent("\(name): no TLS context")), channel: context.channel) }
                do {
                    let handler = try NIOSSLClientHandler(context: tls, serverHostname: serverHostname)
                    try context.pipeline.syncOperations.addHandler(handler, position: .first)
                } catch {
                    settle(.failure(DeliveryError.retryable("\(name): STARTTLS: \(ErrorText.short(error))")), channel: context.channel)
                }
            case .delivered:
                settle(.success(()), channel: context.channel, close: false)
            case .fail(let error):
                settle(.failure(prefixed(error)), channel: context.channel)
            case .close:
                closeAfterWrites(context.channel)
            }
        }
    }

    private func write(_ text: String, context: ChannelHandlerContext) {
        lastWrite = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)))
    }

    /// Reports the outcome once; closes the connection once what was written (a QUIT) has gone.
    private func settle(_ result: Result<Void, Error>, channel: Channel, close: Bool = true) {
        if !settled {
            settled = true
            outcome.completeWith(result)
        }
        if close {
            timer?.cancel()
            closeAfterWrites(channel)
        }
    }

    private func closeAfterWrites(_ channel: Channel) {
        guard let lastWrite else { return channel.close(promise: nil) }
        lastWrite.whenComplete { _ in channel.close(promise: nil) }
    }

    private func prefixed(_ error: DeliveryError) -> DeliveryError {
        switch error {
        case .retryable(let text, let after): .retryable("\(name): \(text)", retryAfter: after)
        case .permanent(let text): .permanent("\(name): \(text)")
        }
    }
}
