import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import TugboatCore

/// `tls.redirect`: a plain-HTTP listener that answers every request with 308 to the same URL over
/// HTTPS (400 without a usable Host), except ACME HTTP-01 challenges
/// (`/.well-known/acme-challenge/<token>`), answered with their key authorization (404 for a token
/// not being validated). Not on the hot path, so NIO's HTTP/1 codec does the parsing.
package final class RedirectServer: Service, Sendable {
    private let listen: HostPort
    private let httpsPort: Int
    private let group: EventLoopGroup
    private let logger: Logger
    private let challenges: ACMEChallenges?

    package init(listen: HostPort, httpsPort: Int, group: EventLoopGroup, logger: Logger, challenges: ACMEChallenges? = nil) {
        self.listen = listen
        self.httpsPort = httpsPort
        self.group = group
        self.logger = logger
        self.challenges = challenges
    }

    package func run() async throws {
        let httpsPort = self.httpsPort
        let challenges = self.challenges
        let channel = try await ListenerHandover.reusingPort(ServerBootstrap(group: group))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
                    try channel.pipeline.syncOperations.addHandler(RedirectHandler(httpsPort: httpsPort, challenges: challenges))
                }
            }
            .bind(host: listen.host, port: listen.port)
            .get()
        await ListenerHandover.steerNewConnections(to: channel, logger: logger)
        challenges?.listenerReady()
        logger.info("redirect listening", metadata: ["listen.address": "\(channel.localAddress?.ipAddress ?? "?"):\(channel.localAddress?.port ?? 0)"])
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

final class RedirectHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let httpsPort: Int
    let challenges: ACMEChallenges?
    private var head: HTTPRequestHead?
    /// A shared challenge answer is being looked up: the connection answers it and closes, and
    /// reads nothing more meanwhile.
    private var lookingUp = false

    init(httpsPort: Int, challenges: ACMEChallenges?) {
        self.httpsPort = httpsPort
        self.challenges = challenges
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if lookingUp { return }
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break  // a body is read and dropped: the answer does not depend on it
        case .end:
            guard let head else { return }
            self.head = nil
            if let answer = challenges?.answer(target: head.uri) {
                if answer.isEmpty, let shared = challenges?.answerElsewhere(target: head.uri, on: context.eventLoop) {
                    lookingUp = true
                    shared.assumeIsolated().whenComplete { result in
                        guard context.channel.isActive, case .success(let answer?) = result, !answer.isEmpty else {
                            self.respond(context: context, head: head, status: .notFound, headers: HTTPHeaders(), body: "404 Not Found\n", close: true)
                            return
                        }
                        self.respond(context: context, head: head, status: .ok, headers: HTTPHeaders(), body: answer, close: true)
                    }
                    return
                }
                // A CA's check is one request: its connection is closed, so the next check (a
                // renewal) connects anew and, with several nodes, is steered like any new one.
                respond(context: context, head: head, status: answer.isEmpty ? .notFound : .ok, headers: HTTPHeaders(),
                        body: answer.isEmpty ? "404 Not Found\n" : answer, close: true)
                return
            }
            let hosts = head.headers["host"]
            let location = hosts.count == 1 ? HTTPSRedirect.location(host: hosts[0], target: head.uri, httpsPort: httpsPort) : nil
            var headers = HTTPHeaders()
            let body = location == nil ? "400 Bad Request: a Host header is needed\n" : "308 Permanent Redirect\n"
            if let location { headers.add(name: "location", value: location) }
            respond(context: context, head: head, status: location == nil ? .badRequest : .permanentRedirect, headers: headers,
                    body: body, close: location == nil || !head.isKeepAlive)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, headers: HTTPHeaders,
                         body: String, close: Bool) {
        var headers = headers
        headers.add(name: "content-type", value: "text/plain")
        headers.add(name: "content-length", value: String(body.utf8.count))
        if close { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}
