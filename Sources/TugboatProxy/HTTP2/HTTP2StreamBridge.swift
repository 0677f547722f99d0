import NIOCore
import NIOHPACK
import NIOHTTP2

/// Sits in each HTTP/2 stream's channel in front of an ordinary ``ProxyHandler``: the stream's
/// request (HEADERS, DATA) goes in as HTTP/1.1 bytes, the HTTP/1.1 response coming out is sent as
/// HEADERS and DATA frames. One exchange per stream. The decisions are made by the pure
/// ``HTTP2RequestHeadWriter``, ``HTTP2RequestBodyFramer`` and ``HTTP2ResponseReader``; this
/// handler only moves their results.
///
/// Backpressure needs nothing of its own: the `ProxyHandler` holds `read()` while the upstream is
/// not writable (so the stream's frames stay unread and no WINDOW_UPDATE goes out), and pauses the
/// upstream while the stream is not writable (its flow-control window is used up).
final class HTTP2StreamBridge: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private enum RequestState {
        case awaitingHead
        case body(HTTP2RequestBodyFramer)
        case complete
    }

    private let limits: HeadLimits
    private var request = RequestState.awaitingHead
    private var response: HTTP2ResponseReader?
    /// The last frame write, so that a close asked for after the response waits for it.
    private var lastWrite: EventLoopFuture<Void>?

    init(limits: HeadLimits) {
        self.limits = limits
    }

    // MARK: The request: frames in, HTTP/1.1 bytes on

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            switch unwrapInboundIn(data) {
            case .headers(let headers):
                try receiveHeaders(context: context, headers.headers, endStream: headers.endStream)
            case .data(let data):
                guard case .body(var framer) = request, case .byteBuffer(let bytes) = data.data else {
                    throw HTTP2RequestBodyFramer.Failure.lengthMismatch
                }
                let out = try framer.frame(bytes, endStream: data.endStream, allocator: context.channel.allocator)
                request = framer.isComplete ? .complete : .body(framer)
                if let out { context.fireChannelRead(wrapInboundOut(out)) }
            default:
                break
            }
        } catch {
            // RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
            context.writeAndFlush(wrapOutboundOut(.rstStream(.protocolError)), promise: nil)
            context.close(promise: nil)
        }
    }

    private func receiveHeaders(context: ChannelHandlerContext, _ headers: HPACKHeaders, endStream: Bool) throws {
        switch request {
        case .awaitingHead:
            let translated = try HTTP2RequestHeadWriter.translate(headers, endStream: endStream, allocator: context.channel.allocator)
            request = translated.body.isComplete ? .complete : .body(translated.body)
            response = HTTP2ResponseReader(requestMethod: translated.method, limits: limits)
            context.fireChannelRead(wrapInboundOut(translated.head))
        case .body(var framer):
            // Trailers: they end the body; their fields are not forwarded.
            guard endStream else { throw HTTP2RequestBodyFramer.Failure.lengthMismatch }
            let out = try framer.finish(allocator: context.channel.allocator)
            request = .complete
            if let out { context.fireChannelRead(wrapInboundOut(out)) }
        case .complete:
            throw HTTP2RequestBodyFramer.Failure.lengthMismatch
        }
    }

    // MARK: The response: HTTP/1.1 bytes in, frames out

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        guard var reader = response else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var frames: [HTTP2Frame.FramePayload] = []
        do {
            try reader.read(bytes) { part in
                switch part {
                case .informational(let headers):
                    frames.append(.headers(.init(headers: headers, endStream: false)))
                case .head(let headers, let endStream):
                    frames.append(.headers(.init(headers: headers, endStream: endStream)))
                case .body(let slice):
                    frames.append(.data(.init(data: .byteBuffer(slice), endStream: false)))
                case .end:
                    // END_STREAM on the last DATA frame of this write, or an empty one.
                    if case .data(var last) = frames.last {
                        last.endStream = true
                        frames[frames.count - 1] = .data(last)
                    } else {
                        frames.append(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))
                    }
                }
            }
        } catch {
            response = reader
            promise?.fail(error)
            context.writeAndFlush(wrapOutboundOut(.rstStream(.internalError)), promise: nil)
            context.close(promise: nil)
            return
        }
        response = reader
        guard let last = frames.popLast() else {
            // Nothing to send (the empty write before a close, or part of a head): done once
            // everything before it is.
            if let promise {
                if let lastWrite { lastWrite.cascade(to: promise) } else { promise.succeed(()) }
            }
            return
        }
        for frame in frames { context.write(wrapOutboundOut(frame), promise: nil) }
        let future = context.write(wrapOutboundOut(last))
        lastWrite = future
        if let promise { future.cascade(to: promise) }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if var reader = response, !reader.isDone {
            // The response ends with the connection (no length): that is the end of the stream.
            var frames: [HTTP2Frame.FramePayload] = []
            reader.finish { if $0 == .end { frames.append(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))) } }
            response = reader
            if let end = frames.first {
                let future = context.writeAndFlush(wrapOutboundOut(end))
                future.assumeIsolated().whenComplete { _ in context.close(mode: mode, promise: promise) }
                return
            }
        }
        context.close(mode: mode, promise: promise)
    }
}
