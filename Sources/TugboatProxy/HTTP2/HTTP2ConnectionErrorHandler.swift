import NIOCore
import NIOHPACK
import NIOHTTP2

/// The last handler of an HTTP/2 connection's pipeline; it decides when a connection that must end
/// does end:
/// - `NIOHTTP2Handler` answers a connection error (rapid reset, CONTINUATION flood, a header block
///   too large or undecodable, …) with GOAWAY and reports it here; this closes the connection at
///   once, so an attacker keeps nothing open. Stream errors (a malformed request) only reset their
///   stream and leave the connection be.
/// - A stream beyond SETTINGS_MAX_CONCURRENT_STREAMS gets GOAWAY PROTOCOL_ERROR: no new stream is
///   accepted, the open ones finish, and the connection closes when the last one does (not when
///   `timeouts.idle` runs out).
/// - Graceful shutdown: the connection-management handler sends GOAWAY and a PING, and closes once
///   the PING is answered and the streams are done. A client that never answers would hold the
///   connection until the drain time ends; after ``pingAnswerGrace`` it closes once no stream is open.
final class HTTP2ConnectionErrorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    static let pingAnswerGrace: TimeAmount = .seconds(2)

    /// Stream channels open (counted by ``HTTP2Front``'s stream initializer and their close: NIO's
    /// stream events are dropped when a read ends in a connection error).
    private var openStreams = 0
    private var closeWhenNoStreams = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func streamOpened() { openStreams += 1 }

    func streamClosed() {
        openStreams -= 1
        if let context { closeIfDone(context: context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.pingAnswerGrace) {
                self.closeWhenDone(context: context)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if Self.endsConnection(error) {
            context.close(promise: nil)
        } else if error is NIOHTTP2Errors.MaxStreamsViolation {
            closeWhenDone(context: context)
        }
    }

    private func closeWhenDone(context: ChannelHandlerContext) {
        closeWhenNoStreams = true
        closeIfDone(context: context)
    }

    private func closeIfDone(context: ChannelHandlerContext) {
        guard closeWhenNoStreams, openStreams <= 0, context.channel.isActive else { return }
        // The last stream's final frames are on their way: out first, then close.
        context.flush()
        context.eventLoop.assumeIsolated().execute { context.close(promise: nil) }
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
