import NIOCore
import NIOHPACK
import NIOHTTP2

/// The last handler of an HTTP/2 connection's pipeline. `NIOHTTP2Handler` answers a connection
/// error (rapid reset, CONTINUATION flood, a header block too large or undecodable, …) with
/// GOAWAY and reports it here; this closes the connection, so an attacker keeps nothing open.
/// Stream errors (a malformed request) only reset their stream and leave the connection be.
final class HTTP2ConnectionErrorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if Self.endsConnection(error) { context.close(promise: nil) }
    }

    /// True for everything but the stream-level errors of swift-nio-http2.
    static func endsConnection(_ error: Error) -> Bool {
        switch error {
        case is any NIOHPACKError,
             is NIOHTTP2Errors.ExcessiveRSTFrames, is NIOHTTP2Errors.ExcessiveContinuationFrames,
             is NIOHTTP2Errors.ExcessivelyLargeHeaderBlock, is NIOHTTP2Errors.ExcessiveEmptyDataFrames,
             is NIOHTTP2Errors.ExcessiveNumberOfGlitches, is NIOHTTP2Errors.ExcessiveControlFrames,
             is NIOHTTP2Errors.ExcessiveStreamErrors, is NIOHTTP2Errors.ExcessiveOutboundFrameBuffering,
             is NIOHTTP2Errors.UnableToParseFrame, is NIOHTTP2Errors.BadClientMagic:
            return true
        case is any NIOHTTP2Error:
            return false
        default:
            return true  // TLS and I/O errors
        }
    }
}
