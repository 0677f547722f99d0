import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import TugboatCore

/// `tls.redirect`: a plain-HTTP listener that answers every request with 308 to the same URL over
/// HTTPS (400 without a usable Host). Not on the hot path, so NIO's HTTP/1 codec does the parsing.
public final class RedirectServer: Service, Sendable {
    private let listen: HostPort
    private let httpsPort: Int
    private let group: EventLoopGroup
    private let logger: Logger

    public init(listen: HostPort, httpsPort: Int, group: EventLoopGroup, logger: Logger) {
        self.listen = listen
        self.httpsPort = httpsPort
        self.group = group
        self.logger = logger
    }

    public func run() async throws {
        let httpsPort = self.httpsPort
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
                    try channel.pipeline.syncOperations.addHandler(RedirectHandler(httpsPort: httpsPort))
                }
            }
            .bind(host: listen.host, port: listen.port)
            .get()
        logger.info("redirect listening", metadata: ["listen.address": "\(channel.localAddress?.ipAddress ?? "?"):\(channel.localAddress?.port ?? 0)"])
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

final class RedirectHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let httpsPort: Int
    private var head: HTTPRequestHead?

    init(httpsPort: Int) { self.httpsPort = httpsPort }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break  // a body is read and dropped: the answer does not depend on it
        case .end:
            guard let head else { return }
            self.head = nil
            let hosts = head.headers["host"]
            let location = hosts.count == 1 ? HTTPSRedirect.location(host: hosts[0], target: head.uri, httpsPort: httpsPort) : nil
            var headers = HTTPHeaders()
            let body = location == nil ? "400 Bad Request: a Host header is needed\n" : "308 Permanent Redirect\n"
            if let location { headers.add(name: "location", value: location) }
            headers.add(name: "content-type", value: "text/plain")
            headers.add(name: "content-length", value: String(body.utf8.count))
            if location == nil || !head.isKeepAlive { headers.add(name: "connection", value: "close") }
            let status: HTTPResponseStatus = location == nil ? .badRequest : .permanentRedirect
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if location == nil || !head.isKeepAlive { done.whenComplete { _ in context.close(promise: nil) } }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}
