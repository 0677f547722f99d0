import NIOCore
import NIOHTTP1

/// One client connection. Each request goes through named phases — accept request, choose
/// upstream, rewrite request, relay response, log — with the per-request state kept in ``Exchange``.
/// Everything runs on the connection's event loop; the upstream connection lives on the same loop.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum Phase {
        /// Waiting for a request head.
        case idle
        /// Dialling (or waiting for) an upstream connection; request parts are buffered.
        case connecting
        /// Request and response flow between client and upstream.
        case forwarding
        /// The response is complete but the client is still sending the request body: drop it.
        case discardingRequestBody
        /// Bytes flow both ways after a protocol switch.
        case tunnel
        case closed
    }

    let loop: LoopContext
    let headGuard: RequestHeadGuard
    var context: ChannelHandlerContext!
    var clientIP: String?
    var phase: Phase = .idle
    var exchange = Exchange()
    /// Bumped for each attempt, so a late connect result for an abandoned attempt is recognised.
    var attemptID: UInt64 = 0
    var upstream: UpstreamHandler?
    var upstreamNeedsFlush = false
    var clientReadsPaused = false
    var clientReadPending = false
    var timer: Scheduled<Void>?
    /// Parts of pipelined requests that arrived while the previous exchange was still running.
    var pipelined: CircularBuffer<HTTPServerRequestPart> = CircularBuffer(initialCapacity: 0)
    /// Inside `channelRead`: writes to the upstream are flushed once, at `channelReadComplete`.
    var inClientRead = false
    /// The server is shutting down: finish the current exchange, then close.
    var quiescing = false

    init(loop: LoopContext, headGuard: RequestHeadGuard) {
        self.loop = loop
        self.headGuard = headGuard
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientIP = context.channel.remoteAddress?.ipAddress
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The context holds this handler: let go of it, or both outlive the connection.
        self.context = nil
    }

    // MARK: Inbound from the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard pipelined.isEmpty, belongsToCurrentExchange() else {
            // HTTP/1.1 pipelining: hold the next request until this response is complete.
            pipelined.append(part)
            pauseClientReads()
            return
        }
        inClientRead = true
        handle(part)
        inClientRead = false
    }

    /// Whether the next request part continues the current request (or starts one when idle).
    private func belongsToCurrentExchange() -> Bool {
        switch phase {
        case .idle, .closed, .tunnel: return true
        case .connecting, .forwarding, .discardingRequestBody: return !exchange.requestComplete
        }
    }

    private func handle(_ part: HTTPServerRequestPart) {
        switch part {
        case .head(let head):
            guard phase == .idle else { return }
            headGuard.headReceived()
            acceptRequest(head)
        case .body(let buffer):
            switch phase {
            case .connecting:
                exchange.buffered.append(.body(.byteBuffer(buffer)))
            case .forwarding:
                guard let upstream else { return }
                upstream.write(.body(.byteBuffer(buffer)))
                exchange.bodyForwarded = true
                upstreamNeedsFlush = true
                if !upstream.isWritable { pauseClientReads() }
            default:
                break
            }
        case .end(let trailers):
            exchange.requestComplete = true
            switch phase {
            case .connecting:
                exchange.buffered.append(.end(trailers))
            case .forwarding:
                upstream?.write(.end(trailers))
                upstreamNeedsFlush = true
            case .discardingRequestBody:
                becomeIdle()
            default:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushUpstreamIfNeeded()
        context.fireChannelReadComplete()
    }

    func flushUpstreamIfNeeded() {
        if upstreamNeedsFlush {
            upstreamNeedsFlush = false
            upstream?.flush()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.resumeReads() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let upstream {
            self.upstream = nil
            upstream.close()
        }
        // Also while still connecting: the backend's in-flight count must not leak.
        exchange.endAttempt()
        phase = .closed
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parserError = error as? HTTPParserError {
            rejectMalformedRequest(parserError)
        } else {
            context.close(promise: nil)
        }
    }

    /// The decoder met something that is not HTTP/1.1 (or a head over the size limit): answer
    /// 431 or 400 when no response is on the wire yet, and close. Other connections are unaffected.
    private func rejectMalformedRequest(_ error: HTTPParserError) {
        let responseOnWire = (phase == .forwarding && exchange.responseStarted) || phase == .tunnel || phase == .closed
        if let upstream {
            self.upstream = nil
            upstream.close()
            exchange.endAttempt()
        }
        attemptID &+= 1
        phase = .closed
        guard !responseOnWire else {
            context.close(promise: nil)
            return
        }
        let (status, body): (HTTPResponseStatus, String) = error == .headerOverflow
            ? (.requestHeaderFieldsTooLarge, "tugboat: request head larger than \(loop.configuration.maxHeaderBytes / 1024) KiB\n")
            : (.badRequest, "tugboat: malformed request (\(error))\n")
        let head = LocalResponse.head(status: status, version: .http1_1, bodyLength: body.utf8.count, close: true, requestID: nil)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        loop.meter.record(slot: nil, status: Int(status.code), micros: 0)
        let context = self.context!
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // Graceful shutdown: an idle connection closes now, a busy one after its response.
        quiescing = true
        if phase == .idle {
            phase = .closed
            context.close(promise: nil)
        } else {
            exchange.closeClient = true
        }
    }

    // MARK: Outbound (reads are held while the upstream cannot take more)

    func read(context: ChannelHandlerContext) {
        if clientReadsPaused {
            clientReadPending = true
        } else {
            context.read()
        }
    }

    func pauseClientReads() { clientReadsPaused = true }

    func resumeClientReads() {
        guard clientReadsPaused, pipelined.isEmpty else { return }
        clientReadsPaused = false
        if clientReadPending {
            clientReadPending = false
            context.read()
        }
    }

    // MARK: Phase 1: accept request

    private func acceptRequest(_ head: HTTPRequestHead) {
        var head = head
        let now = NIODeadline.now()
        exchange = Exchange()
        exchange.startedAt = now
        exchange.deadline = now + loop.configuration.requestTimeout
        exchange.clientVersion = head.version
        exchange.closeClient = !head.isKeepAlive
        exchange.idempotent = Exchange.isIdempotent(head.method)
        exchange.expectsBody = Exchange.announcesBody(head.headers)
        exchange.isUpgrade = HeaderRewriter.isUpgrade(head)
        exchange.requestID = HeaderRewriter.rewriteRequest(&head, clientIP: clientIP) { loop.requestIDs.next() }
        exchange.head = head
        armTimer()
        chooseUpstream()
    }

    func becomeIdle() {
        phase = .idle
        exchange.head = nil
        if quiescing {
            phase = .closed
            context.close(promise: nil)
            return
        }
        headGuard.responseCompleted()
        // Serve pipelined requests that waited for this response, in order.
        while let next = pipelined.first, belongsToCurrentExchange() {
            pipelined.removeFirst()
            handle(next)
        }
        flushUpstreamIfNeeded()
        resumeClientReads()
    }
}
