import NIOCore
import NIOHPACK
import NIOHTTP2

/// The last handler of an HTTP/2 connection's pipeline, behind `NIOHTTP2Handler` in frame mode:
/// it serves each stream with an ``HTTP2Stream`` and a ``ProxyHandler`` (no channel per stream),
/// gives the connection's receive window back as DATA arrives, and decides when a connection that
/// must end does end:
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
final class HTTP2Connection: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    static let pingAnswerGrace: TimeAmount = .seconds(2)

    let loop: LoopContext
    let settings: HTTP2Front.Settings
    let limits: HeadLimits
    let allocator = ByteBufferAllocator()
    private var context: ChannelHandlerContext?
    private(set) var streams: [HTTP2StreamID: HTTP2Stream] = [:]
    /// Streams over whose handlers clean up once the current event is handled (a stream can end
    /// inside its handler's own write: the handler must finish that call first).
    private var ended: [HTTP2Stream] = []
    /// Connection-level DATA bytes received and not yet given back to the client's window.
    private var unacknowledged = 0
    private var closeWhenNoStreams = false
    /// Streams whose creation event went on to the connection-management handler.
    private var announced: Set<HTTP2StreamID> = []
    private var clientIP: [UInt8] = []
    private var trusted = false
    private(set) var parentIsWritable = true

    init(loop: LoopContext, settings: HTTP2Front.Settings) {
        self.loop = loop
        self.settings = settings
        self.limits = loop.configuration.headLimits
    }

    var windowSize: Int { settings.windowSize }

    /// Tells each stream when the HTTP/2 handler sends its DATA (the response's flow control).
    var frameDelegate: some NIOHTTP2FrameDelegate { SentData(connection: self) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        parentIsWritable = context.channel.isWritable
        if context.channel.isActive { identifyClient(context.channel) }
    }

    func channelActive(context: ChannelHandlerContext) {
        identifyClient(context.channel)
        context.fireChannelActive()
    }

    /// Who the client is, once per connection, for every stream's `X-Forwarded-For`.
    private func identifyClient(_ channel: Channel) {
        let remote = channel.remoteAddress
        clientIP = Array((remote?.ipAddress ?? "unknown").utf8)
        trusted = remote.map { loop.configuration.trustedProxies.contains($0) } ?? false
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeAllStreams()
        self.context = nil
    }

    // MARK: Frames in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers:
            if let stream = streams[frame.streamID] {
                stream.receive(frame.payload)
            } else {
                openStream(frame)
            }
        case .data(let data):
            unacknowledged += data.data.readableBytes + (data.paddingBytes ?? 0)
            if unacknowledged >= windowSize / 2 {
                write(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: unacknowledged)))
                unacknowledged = 0
                flush()
            }
            streams[frame.streamID]?.receive(frame.payload)
        default:
            // PING acknowledgements and the rest: the connection-management handler after this one.
            context.fireChannelRead(data)
        }
    }

    private func openStream(_ frame: HTTP2Frame) {
        let handler = ProxyHandler(loop: loop)
        let stream = HTTP2Stream(id: frame.streamID, connection: self, handler: handler)
        streams[frame.streamID] = stream
        handler.attach(to: stream, clientIP: clientIP, trusted: trusted)
        stream.receive(frame.payload)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let created as NIOHTTP2StreamCreatedEvent:
            announced.insert(created.streamID)
        case let closed as StreamClosedEvent:
            if let stream = streams[closed.streamID] { streamEnded(stream) }
            // The connection-management handler after this one counts open streams from these
            // events; a stream refused before it was announced (a malformed header block) is
            // closed without having been created, which it must not see.
            guard announced.remove(closed.streamID) != nil else { return }
        case is ChannelShouldQuiesceEvent:
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.pingAnswerGrace) {
                self.closeWhenDone()
            }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        parentIsWritable = context.channel.isWritable
        if parentIsWritable {
            for stream in streams.values where stream.isWritable { stream.handler?.clientWritabilityChanged() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeAllStreams()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let streamError = error as? NIOHTTP2Errors.StreamError {
            // swift-nio-http2 reset the stream (a malformed or refused frame): it is over.
            if let stream = streams[streamError.streamID] { streamEnded(stream) }
        } else if Self.endsConnection(error) {
            context.close(promise: nil)
        } else if error is NIOHTTP2Errors.MaxStreamsViolation {
            closeWhenDone()
        }
    }

    // MARK: Frames out

    func write(_ frame: HTTP2Frame) {
        context?.write(wrapOutboundOut(frame), promise: nil)
    }

    func flush() { context?.flush() }

    // MARK: Streams' ends

    /// `stream` is over: its handler cleans up once the current event has been handled.
    func streamEnded(_ stream: HTTP2Stream) {
        guard !stream.cleanupQueued else { return }
        stream.cleanupQueued = true
        ended.append(stream)
        if ended.count == 1 {
            loop.eventLoop.assumeIsolated().execute { self.cleanUpEndedStreams() }
        }
    }

    private func cleanUpEndedStreams() {
        let done = ended
        ended.removeAll(keepingCapacity: true)
        for stream in done {
            if streams[stream.id] === stream { streams[stream.id] = nil }
            stream.close()
        }
        closeIfDone()
    }

    private func closeAllStreams() {
        let open = streams.values
        streams.removeAll()
        for stream in open { stream.close() }
    }

    private func closeWhenDone() {
        closeWhenNoStreams = true
        closeIfDone()
    }

    private func closeIfDone() {
        guard closeWhenNoStreams, streams.isEmpty, let context, context.channel.isActive else { return }
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

    /// The frame delegate: DATA leaving the HTTP/2 handler lowers its stream's buffered count.
    private struct SentData: NIOHTTP2FrameDelegate {
        weak var connection: HTTP2Connection?

        func wroteFrame(_ frame: HTTP2Frame) {
            guard case .data(let data) = frame.payload else { return }
            connection?.streams[frame.streamID]?.sent(data.data.readableBytes)
        }
    }
}
