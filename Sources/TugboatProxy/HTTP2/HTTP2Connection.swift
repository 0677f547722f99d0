import NIOCore

/// An HTTP/2 connection at the front (behind TLS): bytes in, cut into frames by the
/// ``H2FrameReader``, decided on by the ``H2ConnectionStateMachine``, each stream served by an
/// ``HTTP2Stream`` and an ordinary ``ProxyHandler`` (no channel per stream); the frames the state
/// machine writes leave as one buffer per pass of the event loop, so many streams' responses make
/// one TLS write. This class only moves bytes and events; it decides when a connection that must
/// end does end:
/// - a connection error (a broken frame, rapid reset, CONTINUATION flood, a header block too large
///   or undecodable, …): GOAWAY, then closed at once, so an attacker keeps nothing open. A stream
///   error (a malformed request) only resets its stream.
/// - A stream beyond SETTINGS_MAX_CONCURRENT_STREAMS gets GOAWAY PROTOCOL_ERROR: no new stream is
///   accepted, the open ones finish, and the connection closes when the last one does.
/// - Graceful shutdown: GOAWAY and a PING; once the PING is answered (or ``pingAnswerGrace`` has
///   passed) the connection closes as soon as no stream is open.
/// - No stream open for `timeouts.idle`: GOAWAY and closed.
final class HTTP2Connection: ChannelInboundHandler, TurnEndFlushing {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let pingAnswerGrace: TimeAmount = .seconds(2)

    let loop: LoopContext
    let settings: HTTP2Front.Settings
    let limits: HeadLimits
    let allocator = ByteBufferAllocator()
    private var context: ChannelHandlerContext?
    private var reader: H2FrameReader
    private var machine: H2ConnectionStateMachine
    private(set) var streams = StreamTable<HTTP2Stream>()
    /// Streams over whose handlers clean up once the current event is handled (a stream can end
    /// inside its handler's own write: the handler must finish that call first).
    private var ended: [HTTP2Stream] = []
    private var started = false
    private var closeWhenNoStreams = false
    private var draining = false
    private var flushScheduled = false
    /// Fires at the earliest moment the connection could have been idle for `timeouts.idle`; it is
    /// not cancelled when a stream opens (that would schedule and cancel a timer every time a
    /// client's streams all end): when it fires it looks at ``idleSince``.
    private var idleTimer: Scheduled<Void>?
    /// Since when no stream has been open; nil while one is.
    private var idleSince: NIODeadline?
    /// The streams' handlers' one timer, at the earliest of their deadlines.
    private var streamTimer: Scheduled<Void>?
    private var streamTimerDeadline = NIODeadline.distantFuture
    private var spareNotices: [H2ConnectionStateMachine.Notice] = []
    private var clientIP: [UInt8] = []
    private var trusted = false
    private(set) var parentIsWritable = true

    init(loop: LoopContext, settings: HTTP2Front.Settings) {
        self.loop = loop
        self.settings = settings
        self.limits = loop.configuration.headLimits
        reader = H2FrameReader(maxHeaderBlockSize: limits.maxHeadBytes)
        machine = H2ConnectionStateMachine(settings: .init(
            maxConcurrentStreams: settings.maxConcurrentStreams,
            initialWindowSize: settings.windowSize,
            maxHeaderListSize: limits.maxHeadBytes
        ))
    }

    var windowSize: Int { settings.windowSize }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        parentIsWritable = context.channel.isWritable
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    /// Our SETTINGS go first; who the client is, once per connection, for every stream's
    /// `X-Forwarded-For`.
    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let remote = context.channel.remoteAddress
        clientIP = Array((remote?.ipAddress ?? "unknown").utf8)
        trusted = remote.map { loop.configuration.trustedProxies.contains($0) } ?? false
        machine.start()
        flushNow()
        armIdleTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeAllStreams()
        idleTimer?.cancel()
        streamTimer?.cancel()
        self.context = nil
    }

    // MARK: Bytes in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !machine.isClosed else { return }
        reader.append(unwrapInboundIn(data))
        let now = NIODeadline.now().uptimeNanoseconds
        do {
            while !machine.isClosed, let frame = try reader.next() {
                handle(machine.receive(frame, now: now))
                deliverNotices()
            }
        } catch {
            machine.fail(error)
            closeNow()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushNow()
        context.fireChannelReadComplete()
    }

    private func handle(_ event: H2ConnectionStateMachine.Event) {
        switch event {
        case .none:
            break
        case .streamOpened(let id, let endStream):
            idleSince = nil
            let handler = loop.spareStreamHandlers.popLast() ?? ProxyHandler(loop: loop)
            let stream = HTTP2Stream(id: id, connection: self, handler: handler)
            streams[id] = stream
            handler.attach(to: stream, clientIP: clientIP, trusted: trusted)
            stream.receiveHeaders(machine.fields, endStream: endStream)
        case .trailers(let id, let endStream):
            streams[id]?.receiveTrailers(endStream: endStream)
        case .data(let id, let payload, let endStream, let flowControlled):
            streams[id]?.receiveData(payload, endStream: endStream, flowControlled: flowControlled)
        case .streamReset(let id):
            if let stream = streams[id] { streamEnded(stream) }
        case .pingAcknowledged:
            if draining { closeWhenDone() }
        case .goAwayReceived, .refusingNewStreams:
            closeWhenDone()
        case .connectionError:
            closeNow()
        }
    }

    private func deliverNotices() {
        guard machine.hasNotices else { return }
        // Two arrays take turns (a notice's handling can lead to more notices, and here again).
        var batch = spareNotices
        spareNotices = []
        machine.takeNotices(into: &batch)
        for notice in batch {
            switch notice {
            case .sent(let id, let count): streams[id]?.sent(count)
            case .closed(let id): if let stream = streams[id] { streamEnded(stream) }
            }
        }
        batch.removeAll(keepingCapacity: true)
        spareNotices = batch
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            draining = true
            machine.quiesce()
            flushNow()
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.pingAnswerGrace) { self.closeWhenDone() }
            return
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
        idleTimer?.cancel()
        streamTimer?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)  // TLS and I/O errors
    }

    // MARK: Frames out (from the streams)

    func sendHeaders(_ id: UInt32, block: ByteBuffer, endStream: Bool) {
        machine.sendHeaders(id, block: block, endStream: endStream)
        deliverNotices()
        scheduleFlush()
    }

    func sendData(_ id: UInt32, _ data: ByteBuffer, endStream: Bool) {
        machine.sendData(id, data, endStream: endStream)
        deliverNotices()
        scheduleFlush()
    }

    func resetStream(_ id: UInt32, code: H2ErrorCode) {
        machine.resetStream(id, code: code)
        scheduleFlush()
    }

    /// Resets a stream for what its client sent: a stream error, counted against the allowance.
    /// One too many ends the connection — closed once the stream's own call has returned (it
    /// comes from inside the stream, which the close would otherwise end under it).
    func resetStreamForClientError(_ id: UInt32, code: H2ErrorCode) {
        guard case .connectionError = machine.resetStream(id, code: code, clientErrorAt: NIODeadline.now().uptimeNanoseconds) else {
            return scheduleFlush()
        }
        loop.eventLoop.assumeIsolated().execute { self.closeNow() }
    }

    func openStreamWindow(_ id: UInt32, increment: Int) {
        machine.openStreamWindow(id, increment: increment)
        scheduleFlush()
    }

    /// Writes what the state machine has written at the end of the loop's turn, once the loop has
    /// handled the I/O it is busy with (``TurnEndFlushes``): many streams' frames leave in one write.
    func scheduleFlush() {
        guard !flushScheduled, context != nil else { return }
        flushScheduled = true
        loop.flushAtEndOfTurn(self)
    }

    func flushAtTurnEnd() {
        flushScheduled = false
        flushNow()
    }

    private func flushNow() {
        guard let context, let bytes = machine.takeOutbound() else { return }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    // MARK: The streams' timer

    func armTimer(at deadline: NIODeadline) {
        guard deadline < streamTimerDeadline, let context else { return }
        streamTimer?.cancel()
        streamTimerDeadline = deadline
        streamTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.streamTimerFired() }
    }

    private func streamTimerFired() {
        streamTimer = nil
        streamTimerDeadline = .distantFuture
        let now = loop.eventLoop.now
        for stream in streams.values {
            guard let deadline = stream.timerDeadline, deadline <= now else { continue }
            stream.timerDeadline = nil
            stream.handler?.streamTimerFired()
        }
        for stream in streams.values {
            if let deadline = stream.timerDeadline { armTimer(at: deadline) }
        }
    }

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
            if var handler = stream.close(), loop.spareStreamHandlers.count < LoopContext.maxSpareStreamHandlers,
               isKnownUniquelyReferenced(&handler), handler.madeAsNewForAnotherStream() {
                loop.spareStreamHandlers.append(handler)
            }
        }
        if streams.isEmpty { armIdleTimer() }
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
        flushNow()
        context.eventLoop.assumeIsolated().execute { context.close(promise: nil) }
    }

    /// After a connection error: the GOAWAY out, then closed.
    private func closeNow() {
        flushNow()
        context?.close(promise: nil)
    }

    /// No stream open for `timeouts.idle`: GOAWAY and closed. Called when the last stream ended.
    private func armIdleTimer() {
        idleSince = loop.eventLoop.now
        guard idleTimer == nil else { return }
        scheduleIdleCheck(at: idleSince! + loop.configuration.idleTimeout)
    }

    private func scheduleIdleCheck(at deadline: NIODeadline) {
        guard let context else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.idleTimer = nil
            // A stream is open: the timer is armed again when the last one ends.
            guard let since = self.idleSince, self.streams.isEmpty else { return }
            let due = since + self.loop.configuration.idleTimeout
            if self.loop.eventLoop.now < due {
                self.scheduleIdleCheck(at: due)  // streams came and went since it was armed
                return
            }
            self.machine.goAway()
            self.closeNow()
        }
    }
}
