import NIOCore
import NIOHTTP1

// Phase 4: relay the response, with backpressure both ways.
extension ProxyHandler: UpstreamDelegate {
    func upstreamReceived(_ part: HTTPClientResponsePart) {
        if phase == .tunnel {
            if case .end = part { finishTunnelSwitch() }
            return
        }
        guard phase == .forwarding else { return }
        switch part {
        case .head(var head) where head.status.code < 200 && head.status != .switchingProtocols:
            // 100 Continue and friends: pass them on; the real response follows.
            HeaderRewriter.rewriteResponse(&head, requestID: exchange.requestID, closeClient: false, version: exchange.clientVersion)
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        case .head(var head):
            exchange.responseStarted = true
            exchange.status = Int(head.status.code)
            if let backend = exchange.backend {
                if head.status.code >= 500 { loop.recordFailure(backend) } else { backend.recordSuccess() }
            }
            if head.status == .switchingProtocols && exchange.isUpgrade {
                startTunnel(head)
                return
            }
            exchange.upstreamReusable = head.isKeepAlive
            HeaderRewriter.rewriteResponse(&head, requestID: exchange.requestID,
                                           closeClient: exchange.closeClient, version: exchange.clientVersion)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        case .body(let buffer):
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            if !context.channel.isWritable { upstream?.pauseReads() }
        case .end(let trailers):
            guard let connection = upstream else { return }
            upstream = nil
            connection.delegate = nil
            let backend = exchange.backend
            exchange.endAttempt()
            if exchange.requestComplete && exchange.upstreamReusable, let backend {
                loop.pool(for: backend).release(connection)
            } else {
                connection.close()
            }
            finishResponse(trailers: trailers)
        }
    }

    func upstreamReadComplete() {
        context.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeClientReads() } else { pauseClientReads() }
    }

    func upstreamClosed(error: Error?) {
        if phase == .tunnel {
            upstream = nil
            context.close(promise: nil)
            return
        }
        guard phase == .forwarding, let backend = exchange.backend else { return }
        upstream = nil
        if exchange.responseStarted {
            // Cut mid-response: the client cannot be told more than that the connection ended.
            exchange.endAttempt()
            phase = .closed
            context.close(promise: nil)
        } else {
            attemptFailed(backend: backend, error: error, beforeConnect: false)
        }
    }

    // MARK: Protocol switch (WebSocket): from here on, bytes are glued both ways.

    /// The backend agreed to switch protocols: pass the 101 on; the switch happens at its `.end`.
    private func startTunnel(_ head: HTTPResponseHead) {
        var head = head
        HeaderRewriter.rewriteResponse(&head, requestID: exchange.requestID, closeClient: false, version: exchange.clientVersion)
        phase = .tunnel
        timer?.cancel()
        timer = nil
        loop.meter.record(slot: exchange.meteredBackend?.slot, status: 101,
                          micros: UInt64(max(0, (NIODeadline.now() - exchange.startedAt).nanoseconds / 1000)))
        exchange.endAttempt()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    /// The 101 response is complete: once it is on the wire, replace the HTTP handlers by glue.
    private func finishTunnelSwitch() {
        guard let connection = upstream, let upstreamChannel = connection.channel else { return }
        upstream = nil
        connection.delegate = nil
        let clientChannel = context.channel
        let loop = context.eventLoop
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { result in
            // Not inside the decoders' callbacks: they must finish before they are removed.
            loop.assumeIsolated().execute {
                do {
                    guard case .success = result else { throw ChannelError.ioOnClosedChannel }
                    try Self.switchToTunnel(client: clientChannel, upstream: upstreamChannel)
                } catch {
                    clientChannel.close(promise: nil)
                    upstreamChannel.close(promise: nil)
                }
            }
        }
    }

    private static func switchToTunnel(client: Channel, upstream: Channel) throws {
        let (clientGlue, upstreamGlue) = GlueHandler.matchedPair()
        let clientOps = client.pipeline.syncOperations
        let upstreamOps = upstream.pipeline.syncOperations
        // Remove everything HTTP, add the glue, then the decoders (their leftover bytes go to the glue).
        try clientOps.addHandler(clientGlue)
        try upstreamOps.addHandler(upstreamGlue)
        for handler in [
            try clientOps.handler(type: ProxyHandler.self) as RemovableChannelHandler,
            try clientOps.handler(type: HTTPResponseEncoder.self),
            try clientOps.handler(type: RequestHeadGuard.self),
        ] {
            clientOps.removeHandler(handler, promise: nil)
        }
        clientOps.removeHandler(try clientOps.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
        upstreamOps.removeHandler(try upstreamOps.handler(type: UpstreamHandler.self), promise: nil)
        upstreamOps.removeHandler(try upstreamOps.handler(type: HTTPRequestEncoder.self), promise: nil)
        upstreamOps.removeHandler(try upstreamOps.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self), promise: nil)
        client.read()
        upstream.read()
    }
}
