import NIOCore

/// One client connection on the byte-level HTTP/1.1 path. Each request goes through named phases —
/// accept request (parse the head from the bytes), choose upstream, rewrite request (the original
/// head with only the contract's edits), relay response, log — with the per-request state in
/// ``RequestContext`` and the connection's life decided by ``ProxyConnectionStateMachine``.
/// Everything runs on the connection's event loop; the upstream connection lives on the same loop.
/// Bodies pass through as slices of the buffers they arrived in.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, NIOScheduledCallbackHandler, TurnEndFlushing {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let loop: LoopContext
    /// The client side: this handler's own channel (HTTP/1.1), or one stream of an HTTP/2
    /// connection (see ProxyHandler+Client.swift). Exactly one is set while the client is there.
    var context: ChannelHandlerContext?
    var stream: HTTP2Stream?
    var machine: ProxyConnectionStateMachine
    /// The request in flight (a fresh context between requests). Stored in the handler itself:
    /// reading a field is a load. (Kept in a class taken from the loop's spares, it was read
    /// through an accessor coroutine that copied all 409 bytes into a `malloc`ed frame, some
    /// twenty times a request; idle connections are parked without a handler anyway.)
    var request = RequestContext()
    var upstream: UpstreamHandler?
    let plainSocket: Bool
    /// Writes to the client's socket (straight to it on a plain socket).
    var clientSocket = DirectSocketWriter()
    /// A flush of `clientSocket` waits for the end of the loop's turn (``clientFlush()``).
    var clientFlushQueued = false
    /// Head buffers written to the client this turn, given back to the loop once sent.
    var headsWritten: [ByteBuffer] = []
    /// The response body going through a kernel pipe, if it is (ProxyHandler+Splice.swift).
    var splice: ResponseSplice?
    var forwarding = ForwardingContext(clientIP: [], trusted: false, generatedID: RequestID(prefix: 0, counter: 0))
    /// Bytes read from the client and not yet consumed: a partial head, body bytes waiting for an
    /// upstream, or the next (pipelined) request waiting for this response. Reads stop while it
    /// holds something that cannot move on, so it never grows beyond one read event (NIO's
    /// `maxMessagesPerRead` 16 reads of up to 64 KiB: 1 MiB at worst).
    var clientBytes = ByteBuffer()
    /// How far the head search got in `clientBytes` (a trickled head is scanned once overall).
    var scannedHeadBytes = 0
    /// Bytes read from the upstream and not yet consumed (a partial response head).
    var upstreamBytes = ByteBuffer()
    /// How far the head search got in `upstreamBytes` (a trickling backend is scanned once overall).
    var scannedResponseBytes = 0
    /// A response head built but not yet written (small body bytes are appended to it first).
    var pendingResponseHead: ByteBuffer?
    /// Bumped for each attempt, so a late connect result for an abandoned attempt is recognised.
    var attemptID: UInt64 = 0
    var clientReadsPaused = false
    var clientReadPending = false
    var upstreamNeedsFlush = false
    /// Inside `channelRead`: writes to the upstream are flushed once, at `channelReadComplete`.
    var inClientRead = false
    /// The one timer a connection has (the machine's next deadline), a callback on the loop
    /// with no promise or closure behind it.
    var timer: NIOScheduledCallback?
    var timerDeadline: NIODeadline = .distantFuture
    /// The loop's configuration generation the machine's timeouts come from (see ``adoptConfiguration()``).
    var configurationGeneration: Int
    /// The current request's method, target (and Referer, User-Agent) for its access-log line,
    /// reused by each request of the connection.
    var accessLogBytes = ByteBuffer()

    /// `plainSocket`: the channel is a TCP socket with nothing in between (no TLS), so responses
    /// may be written to it directly (``DirectSocketWriter``).
    init(loop: LoopContext, plainSocket: Bool = false) {
        self.loop = loop
        self.plainSocket = plainSocket
        machine = Self.newMachine(loop)
        configurationGeneration = loop.configurationGeneration
    }

    /// A connection's machine, fresh, with the loop's timeouts and retries.
    static func newMachine(_ loop: LoopContext) -> ProxyConnectionStateMachine {
        // Field by field: `let configuration = loop.configuration` copied the whole struct (and
        // retained what it holds) for each connection and each HTTP/2 stream.
        ProxyConnectionStateMachine(
            headerTimeout: loop.configuration.headerTimeout, idleTimeout: loop.configuration.idleTimeout,
            requestTimeout: loop.configuration.requestTimeout, retries: loop.configuration.retries, now: loop.eventLoop.now,
            parkAfter: loop.parkingLot != nil && !loop.configuration.https ? Self.parkAfter : nil
        )
    }

    /// Between requests: take the loop's timeouts and retries if a reload replaced them (one
    /// integer compare when it did not).
    func adoptConfiguration() {
        guard configurationGeneration != loop.configurationGeneration, case .idle = machine.state else { return }
        configurationGeneration = loop.configurationGeneration
        let configuration = loop.configuration
        machine.adopt(headerTimeout: configuration.headerTimeout, idleTimeout: configuration.idleTimeout,
                      requestTimeout: configuration.requestTimeout, retries: configuration.retries)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if plainSocket { clientSocket.attach(to: context) }
        loop.spreader?.connectionOpened(onLoop: loop.index)
        if context.channel.isActive { identifyClient(context.channel) }
        ensureTimer()
    }

    func channelActive(context: ChannelHandlerContext) {
        identifyClient(context.channel)
        context.fireChannelActive()
    }

    /// Who the client is, once per connection: its address for `X-Forwarded-For`, and whether it
    /// is one of `trusted-proxies`.
    private func identifyClient(_ channel: Channel) {
        let remote = channel.remoteAddress
        forwarding.clientIP = Array((remote?.ipAddress ?? "unknown").utf8)
        forwarding.trusted = remote.map { loop.configuration.trustedProxies.contains($0) } ?? false
        forwarding.https = loop.configuration.https
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The context holds this handler: let go of it, or both outlive the connection.
        self.context = nil
        clientSocket.detach()
        loop.spreader?.connectionClosed(onLoop: loop.index)
        timer?.cancel()
        timer = nil
        dropSplice()
    }

    // MARK: Inbound from the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(unwrapInboundIn(data))
    }

    /// Bytes from the client (its channel's read, or an HTTP/2 stream's request translated).
    func receive(_ buffer: ByteBuffer) {
        clientBytes.appendArrived(buffer)
        inClientRead = true
        processClientBytes()
        inClientRead = false
        // Let go of a consumed read buffer (an idle connection keeps no memory of its last read).
        if clientBytes.readableBytes == 0 { clientBytes = ByteBuffer() }
    }

    /// An HTTP/2 stream's request head, parsed already (``HTTP2RequestHeadWriter/Translated/parsed``):
    /// the exchange starts as it would once `headBytes` had been read and parsed.
    func receive(_ head: RequestHead, headBytes: ByteBuffer) {
        inClientRead = true
        adoptConfiguration()
        startExchange(head, headBytes: headBytes)
        loop.headerFields = head.headers
        processClientBytes()
        inClientRead = false
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushUpstreamIfNeeded()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        clientWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func clientWritabilityChanged() {
        // A spliced body moves on when its writes complete, not on writability.
        if clientIsWritable && splice == nil { upstream?.resumeReads() }
    }

    func flushUpstreamIfNeeded() {
        if upstreamNeedsFlush {
            upstreamNeedsFlush = false
            upstream?.flush()
        }
    }

    /// Moves the client's bytes on as far as the current phase allows.
    func processClientBytes() {
        while true {
            switch machine.state {
            case .idle, .readingHead:
                guard acceptRequest() else { return }
            case .exchange(let exchange):
                if exchange.requestComplete {
                    // A pipelined request (or bytes after an Upgrade head) waits for this response.
                    if clientBytes.readableBytes > 0 { pauseClientReads() }
                    return
                }
                guard let upstream, case .attached = exchange.upstream else {
                    if clientBytes.readableBytes > 0 { pauseClientReads() }
                    return
                }
                forwardRequestBody(to: upstream)
                return
            case .tunnel, .closed:
                return
            }
        }
    }

    private func forwardRequestBody(to upstream: UpstreamHandler) {
        do {
            while let slice = try request.requestBody.take(from: &clientBytes) {
                request.log.bytesIn &+= Int64(slice.readableBytes)
                upstream.write(slice)
                upstreamNeedsFlush = true
                machine.requestBodyForwarded()
            }
        } catch {
            if machine.exchange?.responseStarted == true {
                // A response is already on its way: no room for a 400, only for ending both sides.
                abandonConnection()
            } else {
                rejectClient(status: 400, "tugboat: malformed chunked request body (\(error))\n")
            }
            return
        }
        if request.requestBody.isComplete {
            machine.requestCompleted()
            if clientBytes.readableBytes > 0 { pauseClientReads() }
        }
        if !inClientRead { flushUpstreamIfNeeded() }
        if !upstream.isWritable { pauseClientReads() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientSocket.detach()
        clientClosed()
        context.fireChannelInactive()
    }

    /// The client is gone (its channel closed, or its HTTP/2 stream ended or was reset).
    func clientClosed() {
        // A spliced body's bytes went through the pipe, uncounted: its connection cannot be drained.
        let drainable = splice == nil
        dropSplice()
        if let upstream {
            self.upstream = nil
            if !drainable || !drainAbandonedResponse(on: upstream) { upstream.close() }
        }
        // Also while still connecting: the backend's in-flight count must not leak.
        request.endAttempt()
        logUnfinishedRequest()
        machine.closed()
        timer?.cancel()
        timer = nil
        releaseRequest()
    }

    /// The request is over: what follows reads a fresh context. The buffer of the head sent to
    /// the backend goes back to the loop for the next request.
    func releaseRequest() {
        let head = request.forwardedHead
        request = RequestContext()
        loop.returnHeadBuffer(head)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // Graceful shutdown: the connection closes after the request it is on, or the one an idle
        // connection receives within a moment, or at the end of that moment.
        machine.quiesce(now: loop.eventLoop.now)
        ensureTimer()
    }

    // MARK: Reads are held while what was read cannot move on

    func read(context: ChannelHandlerContext) {
        if clientReadsPaused {
            clientReadPending = true
        } else {
            context.read()
        }
    }

    func pauseClientReads() { clientReadsPaused = true }

    func resumeClientReads() {
        guard clientReadsPaused else { return }
        clientReadsPaused = false
        if clientReadPending {
            clientReadPending = false
            clientRead()
        }
    }

    // MARK: Phase 1: accept request

    /// Parses a request head from the buffered bytes and starts its exchange. False when more
    /// bytes are needed or the request was refused.
    private func acceptRequest() -> Bool {
        adoptConfiguration()
        skipEmptyLines()
        guard clientBytes.readableBytes > 0 else {
            resumeClientReads()
            return false
        }
        let limits = loop.configuration.headLimits
        let length = clientBytes.withUnsafeReadableBytes { HeadScanner.headLength($0, from: scannedHeadBytes) }
        guard let length, length <= limits.maxHeadBytes else {
            if clientBytes.readableBytes > limits.maxHeadBytes || (length ?? 0) > limits.maxHeadBytes {
                rejectClient(status: 431, "tugboat: request head larger than \(limits.maxHeadBytes / 1024) KiB\n")
                return false
            }
            scannedHeadBytes = clientBytes.readableBytes
            machine.headBytesArrived(now: loop.eventLoop.now)
            ensureTimer()
            resumeClientReads()
            return false
        }
        scannedHeadBytes = 0
        let headBytes = clientBytes.readSlice(length: length)!
        var storage: [HeaderField] = []
        swap(&storage, &loop.headerFields)
        let head: RequestHead
        do {
            head = try headBytes.withUnsafeReadableBytes { bytes throws(HeadError) in
                try RequestHead.parse(bytes, limits: limits, reusing: &storage)
            }
        } catch {
            captureRefusedHead(headBytes)
            rejectClient(status: error.status, "tugboat: \(error.reason)\n")
            return false
        }
        startExchange(head, headBytes: headBytes)
        loop.headerFields = head.headers
        return true
    }

    /// RFC 9112 §2.2: empty lines before a request line are ignored (some clients send a CRLF
    /// after a POST body).
    private func skipEmptyLines() {
        var skipped = 0
        while skipped < 8, let byte = clientBytes.getInteger(at: clientBytes.readerIndex, as: UInt8.self),
              byte == 0x0D || byte == 0x0A {
            clientBytes.moveReaderIndex(forwardBy: 1)
            skipped += 1
        }
    }

    private func startExchange(_ head: RequestHead, headBytes: ByteBuffer) {
        let now = loop.eventLoop.now
        // `request` is fresh: the connection starts with one and becomeIdle leaves one behind.
        request.startedAt = now
        request.method = head.method
        request.clientMinorVersion = head.minorVersion
        request.requestBody = BodyCursor(head.framing, strict: true)
        forwarding.generatedID = loop.requestIDs.next()
        var out = loop.takeHeadBuffer(capacity: headBytes.readableBytes + 256)
        let clientID = headBytes.withUnsafeReadableBytes { bytes in
            ForwardedHeads.request(head, bytes: bytes, context: forwarding, into: &out)
        }
        request.forwardedHead = out
        if let clientID {
            request.requestID = .client(headBytes.getSlice(at: headBytes.readerIndex + clientID.lowerBound, length: clientID.count)!)
        } else {
            request.requestID = .generated(forwarding.generatedID)
        }
        captureForAccessLog(head, headBytes: headBytes)
        // An HTTP/2 stream carries one exchange: it ends with its response, with no idle phase
        // (nor a fresh context made for a next request that cannot come).
        machine.requestHeadParsed(now: now, idempotent: head.method.isIdempotent, isUpgrade: head.isUpgrade,
                                  bodyless: request.requestBody.isComplete, closeClient: !head.keepAlive || stream != nil)
        ensureTimer()
        chooseUpstream()
    }

    /// Back to waiting for the next request; serves one already buffered (pipelined) at once.
    func becomeIdle() {
        releaseRequest()
        upstreamBytes = ByteBuffer()
        scannedResponseBytes = 0
        ensureTimer()
        if loop.movesLeft > 0 { moveToAnotherLoopIfAsked() }
        processClientBytes()
        flushUpstreamIfNeeded()
    }
}
