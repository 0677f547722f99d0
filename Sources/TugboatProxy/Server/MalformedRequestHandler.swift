import NIOCore
import NIOHTTP1

/// Answers requests the decoder cannot parse — 431 when the head is too large, 400 otherwise —
/// and closes the connection. Other connections are not affected.
final class MalformedRequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var responseInProgress = false

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if responseInProgress {
            // Half a response is on the wire: nothing sensible can follow it.
            context.close(promise: nil)
        } else {
            let (status, body): (HTTPResponseStatus, String) = parserError == .headerOverflow
                ? (.requestHeaderFieldsTooLarge, "tugboat: request head larger than 64 KiB\n")
                : (.badRequest, "tugboat: malformed request (\(parserError))\n")
            let head = LocalResponse.head(status: status, version: .http1_1, bodyLength: body.utf8.count, close: true, requestID: nil)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            responseInProgress = true
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: responseInProgress = true
        case .end: responseInProgress = false
        default: break
        }
        context.write(data, promise: promise)
    }
}
