import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One whole request: its head and its body, collected.
public struct WholeRequest {
    public var head: HTTPRequestHead
    public var body: ByteBuffer
}

/// Collects each request's head and body parts and passes the whole request on.
public final class WholeRequestReader: ChannelInboundHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = WholeRequest

    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            self.head = nil
            context.fireChannelRead(wrapInboundOut(WholeRequest(head: head, body: body)))
        }
    }
}

/// The contract servers' listener (not shipped): HTTP/1.1 (or HTTPS with `tls`) on
/// 127.0.0.1:`port` (0: a free one), whole requests handed to the handler `makeHandler` makes per
/// connection. Prints `<name> listening on 127.0.0.1:PORT` (what the tests wait for).
public enum ContractListener {
    /// Binds, prints the line, serves until killed.
    public static func serve(name: String, port: Int, tls: NIOSSLContext? = nil,
                             makeHandler: @escaping @Sendable () -> any ChannelHandler) throws -> Never {
        let channel = try bind(name: name, port: port, tls: tls, makeHandler: makeHandler)
        try channel.closeFuture.wait()
        exit(0)
    }

    /// Binds and prints the line; the listener serves until its channel is closed.
    public static func bind(name: String, port: Int, tls: NIOSSLContext? = nil,
                            makeHandler: @escaping @Sendable () -> any ChannelHandler) throws -> Channel {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(WholeRequestReader())
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .bind(host: "127.0.0.1", port: port)
            .wait()
        print("\(name) listening on 127.0.0.1:\(channel.localAddress!.port!)")
        fflush(nil)
        return channel
    }
}
