import NIOCore
import NIOHTTP1

/// `Upgrade: echo` (or `websocket`): switches to a raw byte echo, to test tunnelling through the proxy.
final class EchoUpgrader: HTTPServerProtocolUpgrader, Sendable {
    let supportedProtocol: String
    let requiredUpgradeHeaders: [String] = []

    init(protocolName: String) { self.supportedProtocol = protocolName }

    func buildUpgradeResponse(channel: Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        channel.eventLoop.makeSucceededFuture(initialResponseHeaders)
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        context.eventLoop.makeCompletedFuture {
            let ops = context.pipeline.syncOperations
            ops.removeHandler(try ops.handler(type: DemoAppHandler.self), promise: nil)
            try ops.addHandler(EchoHandler())
        }
    }
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) { context.flush() }
}
