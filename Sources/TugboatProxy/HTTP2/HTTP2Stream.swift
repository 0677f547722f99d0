import NIOCore

/// One HTTP/2 stream of an ``HTTP2Connection``, served by an ordinary ``ProxyHandler`` without a
/// channel of its own: the stream's request (HEADERS, DATA) goes to the handler as HTTP/1.1 bytes,
/// the HTTP/1.1 response the handler writes leaves as HEADERS and DATA frames. One exchange per
/// stream. The decisions are made by the pure ``HTTP2RequestHeadWriter``,
/// ``HTTP2RequestBodyFramer`` and ``HTTP2ResponseReader``; this object only moves their results.
///
/// Flow control both ways:
/// - request body: the stream's receive window is opened again (WINDOW_UPDATE) only for bytes the
///   handler has taken while it wants more, so a backend that does not read the body stops the
///   client after one window;
/// - response: DATA handed to the connection and not yet sent (the client's window is shut)
///   counts against a high watermark; above it the stream is not writable and the handler pauses
///   its upstream.
final class HTTP2Stream {
    private enum RequestState {
        case awaitingHead
        case body(HTTP2RequestBodyFramer)
        case complete
    }

    /// A frame held back until the next part shows whether END_STREAM goes on it.
    private enum Outgoing {
        case headers(ByteBuffer, endStream: Bool)
        case data(ByteBuffer, endStream: Bool)
    }

    let id: UInt32
    private unowned let connection: HTTP2Connection
    private(set) var handler: ProxyHandler?
    private var request = RequestState.awaitingHead
    private var response: HTTP2ResponseReader?
    /// The stream is over for us (ended, reset, or its connection gone): nothing more is written.
    private(set) var isClosed = false
    /// Its clean-up is queued on the connection (see ``HTTP2Connection/streamEnded(_:)``).
    var cleanupQueued = false

    /// Request DATA bytes received and not yet given back to the client's window.
    private var unacknowledged = 0
    /// Response DATA bytes handed to the connection that it has not sent yet.
    private var buffered = 0
    private var aboveWatermark = false

    /// When the handler's next deadline is, kept by the connection's one timer.
    var timerDeadline: NIODeadline?

    init(id: UInt32, connection: HTTP2Connection, handler: ProxyHandler) {
        self.id = id
        self.connection = connection
        self.handler = handler
    }

    var isWritable: Bool { !aboveWatermark && connection.parentIsWritable }

    // MARK: The request: frames in, HTTP/1.1 bytes on

    /// The request's header block (the stream's first HEADERS).
    func receiveHeaders(_ fields: HeaderFieldList, endStream: Bool) {
        guard !isClosed, let handler, case .awaitingHead = request else { return }
        let loop = connection.loop
        var spare = loop.takeHeadBuffer(capacity: 0)
        // The loop's array for a head's fields: the parsed head is made in it, as a parse would.
        var storage: [HeaderField] = []
        swap(&storage, &loop.headerFields)
        let translated: HTTP2RequestHeadWriter.Translated
        do {
            translated = try HTTP2RequestHeadWriter.translate(fields, endStream: endStream, limits: loop.configuration.headLimits,
                                                              reusing: &spare, fields: &storage)
        } catch {
            loop.headerFields = storage
            // RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
            reset(.protocolError, clientError: true)
            return
        }
        request = translated.body.isComplete ? .complete : .body(translated.body)
        response = HTTP2ResponseReader(requestMethod: translated.method, limits: connection.limits)
        if let head = translated.parsed {
            // Made while the head was written: not parsed again (the handler gives the array back).
            handler.receive(head, headBytes: translated.head)
            handler.flushUpstreamIfNeeded()
        } else {
            loop.headerFields = storage
            deliver(translated.head, to: handler)
        }
        loop.returnHeadBuffer(translated.head)  // read by now
    }

    /// A later header block: trailers, which end the body; their fields are not forwarded.
    func receiveTrailers(endStream: Bool) {
        guard !isClosed, let handler else { return }
        guard endStream, case .body(var framer) = request, case .success(let out) = Result(catching: { () throws(HTTP2RequestBodyFramer.Failure) in
            try framer.finish(allocator: connection.allocator)
        }) else {
            reset(.protocolError, clientError: true)
            return
        }
        request = .complete
        if let out { deliver(out, to: handler) }
    }

    func receiveData(_ bytes: ByteBuffer, endStream: Bool, flowControlled: Int) {
        guard !isClosed, let handler else { return }
        guard case .body(var framer) = request, case .success(let out) = Result(catching: { () throws(HTTP2RequestBodyFramer.Failure) in
            try framer.frame(bytes, endStream: endStream, allocator: connection.allocator)
        }) else {
            reset(.protocolError, clientError: true)
            return
        }
        unacknowledged += flowControlled
        request = framer.isComplete ? .complete : .body(framer)
        if let out { deliver(out, to: handler) }
        if !handler.clientReadsPaused { requestMore() } else { handler.clientReadPending = true }
    }

    private func deliver(_ bytes: ByteBuffer, to handler: ProxyHandler) {
        handler.receive(bytes)
        handler.flushUpstreamIfNeeded()
    }

    /// The handler wants more of the body: give the client its window back, in half-window steps.
    func requestMore() {
        guard unacknowledged >= connection.windowSize / 2, !isClosed, case .body = request else { return }
        let increment = unacknowledged
        unacknowledged = 0
        connection.openStreamWindow(id, increment: increment)
    }

    // MARK: The response: HTTP/1.1 bytes in, frames out

    func write(_ bytes: ByteBuffer) {
        guard !isClosed, var reader = response else { return }
        var last: Outgoing?
        do {
            try reader.read(bytes) { part in
                switch part {
                case .informational(let block):
                    if let frame = last { send(frame) }
                    last = .headers(block, endStream: false)
                case .head(let block, let endStream):
                    if let frame = last { send(frame) }
                    last = .headers(block, endStream: endStream)
                case .body(let slice):
                    if let frame = last { send(frame) }
                    last = .data(slice, endStream: false)
                case .end:
                    // END_STREAM on the last DATA frame of this write, or an empty one.
                    if case .data(let data, _) = last {
                        last = .data(data, endStream: true)
                    } else {
                        if let frame = last { send(frame) }
                        last = .data(ByteBuffer(), endStream: true)
                    }
                }
            }
        } catch {
            response = reader
            reset(.internalError)
            return
        }
        response = reader
        if let last { send(last) }
    }

    /// The response head the handler has parsed (see ``HTTP2ResponseReader/acceptHead``).
    func writeHead(_ head: ResponseHead, headBytes: ByteBuffer, requestID: ByteBuffer) {
        guard !isClosed, var reader = response else { return }
        var spare = connection.loop.takeHeadBuffer(capacity: 0)
        defer { connection.loop.returnHeadBuffer(spare) }
        headBytes.withUnsafeReadableBytes { bytes in
            reader.acceptHead(head, bytes: bytes, requestID: requestID, reusing: &spare) { part in
                switch part {
                case .informational(let block): send(.headers(block, endStream: false))
                case .head(let block, let endStream): send(.headers(block, endStream: endStream))
                case .body, .end: break  // not from a head
                }
            }
        }
        response = reader
    }

    private func send(_ frame: Outgoing) {
        switch frame {
        case .headers(let block, let endStream):
            connection.sendHeaders(id, block: block, endStream: endStream)
        case .data(let data, let endStream):
            buffered += data.readableBytes
            if !aboveWatermark && buffered > connection.settings.streamHighWatermark { aboveWatermark = true }
            connection.sendData(id, data, endStream: endStream)
        }
    }

    /// The connection sent `count` bytes of this stream's DATA (the client's windows let them go).
    func sent(_ count: Int) {
        buffered -= count
        if aboveWatermark && buffered < connection.settings.streamLowWatermark {
            aboveWatermark = false
            if connection.parentIsWritable { handler?.clientWritabilityChanged() }
        }
    }

    func flush() { connection.scheduleFlush() }

    /// The handler's timer: fire no later than `deadline` (a later one is found when it fires).
    func armTimer(at deadline: NIODeadline) {
        if let current = timerDeadline, current <= deadline { return }
        timerDeadline = deadline
        connection.armTimer(at: deadline)
    }

    /// The handler is done with the stream: the response has ended, or it ends here when its body
    /// runs to the end of the connection. A request the client is still sending is stopped with
    /// RST_STREAM NO_ERROR (RFC 9113 §8.1); anything unfinished is reset.
    func finish() {
        guard !isClosed else { return }
        if var reader = response, !reader.isDone {
            var ended = false
            reader.finish { if $0 == .end { ended = true } }
            response = reader
            if ended { send(.data(ByteBuffer(), endStream: true)) }
        }
        guard response?.isDone == true else {
            reset(.internalError)
            return
        }
        if case .complete = request {
            connection.scheduleFlush()
        } else {
            reset(.noError)
        }
    }

    /// Resets the stream (RST_STREAM, unless it is over already) and lets the handler go.
    /// `clientError`: for what the client sent (a malformed request, body or trailers), which the
    /// connection counts as a stream error.
    func reset(_ code: H2ErrorCode = .cancel, clientError: Bool = false) {
        guard !isClosed else { return }
        isClosed = true
        if clientError {
            connection.resetStreamForClientError(id, code: code)
        } else {
            connection.resetStream(id, code: code)
        }
        connection.streamEnded(self)
    }

    /// The stream is over (both sides ended, reset, or the connection is gone): the handler
    /// cleans up (its upstream, in-flight count, a log line for an unfinished request).
    /// Returns the handler it let go of.
    @discardableResult
    func close() -> ProxyHandler? {
        isClosed = true
        guard let handler else { return nil }
        self.handler = nil
        handler.clientClosed()
        handler.detachStream()
        return handler
    }
}
