import NIOCore

// Phase 4: relay the response (its head re-written, its body as slices), with backpressure both ways.
extension ProxyHandler: UpstreamDelegate {
    /// Body bytes up to this size that arrive with a head are copied behind it (one write).
    static let coalesceLimit = 8 * 1024

    func upstreamReceived(_ bytes: ByteBuffer) {
        upstreamBytes.appendArrived(bytes)
        if let splice {
            spliceReceived(splice)
            return
        }
        processUpstreamBytes()
        if upstreamBytes.readableBytes == 0 { upstreamBytes = ByteBuffer() }
    }

    private func processUpstreamBytes() {
        guard clientAttached, case .exchange(let exchange) = machine.state else { return }
        while !request.responseHeadDone {
            let limits = loop.configuration.headLimits
            guard let length = upstreamBytes.withUnsafeReadableBytes({ HeadScanner.headLength($0, from: scannedResponseBytes) }),
                  length <= limits.maxHeadBytes else {
                if upstreamBytes.readableBytes > limits.maxHeadBytes {
                    upstreamProtocolError("a response head larger than \(limits.maxHeadBytes / 1024) KiB")
                } else {
                    scannedResponseBytes = upstreamBytes.readableBytes
                }
                return
            }
            scannedResponseBytes = 0
            let headBytes = upstreamBytes.readSlice(length: length)!
            var storage: [HeaderField] = []
            swap(&storage, &loop.headerFields)
            let head: ResponseHead
            do {
                head = try headBytes.withUnsafeReadableBytes { bytes throws(HeadError) in
                    try ResponseHead.parse(bytes, requestMethod: request.method, limits: limits, reusing: &storage)
                }
            } catch {
                upstreamProtocolError(error.reason)
                return
            }
            defer { loop.headerFields = head.headers }
            if head.status == 101 {
                guard exchange.isUpgrade else {
                    upstreamProtocolError("101 Switching Protocols to a request that did not ask to upgrade")
                    return
                }
                startTunnel(head, headBytes: headBytes)
                return
            }
            if head.isInformational {
                // 100 Continue and friends: an HTTP/1.1 client gets them; the real response follows.
                if request.clientMinorVersion == 1 { writeResponseHead(head, headBytes: headBytes, close: false) }
                continue
            }
            acceptResponseHead(head, headBytes: headBytes)
        }
        relayResponseBody()
    }

    /// Sends the pending response head, if any, with whatever body bytes were gathered into it.
    private func writePendingHead() {
        guard let head = pendingResponseHead else { return }
        pendingResponseHead = nil
        clientWrite(head)
        returnAfterFlush(head)
    }

    private func acceptResponseHead(_ head: ResponseHead, headBytes: ByteBuffer) {
        machine.responseStarted()
        request.responseHeadDone = true
        request.status = head.status
        if loop.accessLog != nil { request.log.upstreamNanos = (loop.eventLoop.now - request.startedAt).nanoseconds }
        if let backend = request.backend {
            if head.status >= 500 { loop.recordFailure(backend) } else { backend.recordSuccess() }
        }
        request.upstreamKeepAlive = head.keepAlive
        request.dechunk = head.framing == .chunked && request.clientMinorVersion == 0
        // An answer before the whole request was read (the rest is not worth reading), a body
        // that ends only with the connection, or data for an HTTP/1.0 client: close afterwards.
        if !(machine.exchange?.requestComplete ?? false) || head.framing == .untilClose || request.dechunk {
            machine.closeClientAfterResponse()
        }
        request.responseBody = BodyCursor(head.framing)
        // No retry from here on: the head sent to the backend is done with.
        loop.returnHeadBuffer(request.forwardedHead)
        request.forwardedHead = ByteBuffer()
        if let stream {
            writeStreamHead(head, headBytes: headBytes, to: stream)
            return
        }
        // Held back a moment: a small body that came with the head goes out in the same write.
        pendingResponseHead = buildResponseHead(head, headBytes: headBytes, close: machine.exchange?.closeClient ?? true)
    }

    /// An HTTP/2 stream takes the parsed head and makes its header block from it directly.
    private func writeStreamHead(_ head: ResponseHead, headBytes: ByteBuffer, to stream: HTTP2Stream) {
        var id = loop.takeHeadBuffer(capacity: 64)
        request.requestID.write(into: &id)
        stream.writeHead(head, headBytes: headBytes, requestID: id)
        loop.returnHeadBuffer(id)
    }

    private func writeResponseHead(_ head: ResponseHead, headBytes: ByteBuffer, close: Bool) {
        guard clientAttached else { return }
        if let stream {
            writeStreamHead(head, headBytes: headBytes, to: stream)
            return
        }
        let out = buildResponseHead(head, headBytes: headBytes, close: close)
        clientWrite(out)
        returnAfterFlush(out)
    }

    private func buildResponseHead(_ head: ResponseHead, headBytes: ByteBuffer, close: Bool) -> ByteBuffer {
        var out = loop.takeHeadBuffer(capacity: headBytes.readableBytes + 128)
        headBytes.withUnsafeReadableBytes { bytes in
            ForwardedHeads.response(head, bytes: bytes, clientMinorVersion: request.clientMinorVersion, closeClient: close,
                                    dechunk: request.dechunk, requestID: request.requestID, into: &out)
        }
        return out
    }

    private func relayResponseBody() {
        do {
            if request.dechunk {
                writePendingHead()
                var sent = 0  // not into `request` inside the closure: takeDechunked is modifying it
                defer { request.log.bytesOut &+= Int64(sent) }
                try request.responseBody.takeDechunked(from: &upstreamBytes) {
                    sent += $0.readableBytes
                    self.clientWrite($0)
                }
            } else {
                while let slice = try request.responseBody.take(from: &upstreamBytes) {
                    request.log.bytesOut &+= Int64(slice.readableBytes)
                    if pendingResponseHead != nil && slice.readableBytes <= Self.coalesceLimit {
                        // One write instead of two: copying a few KiB costs less than a writev.
                        pendingResponseHead!.writeImmutableBuffer(slice)
                    } else {
                        writePendingHead()
                        clientWrite(slice)
                    }
                }
            }
        } catch {
            pendingResponseHead = nil
            upstreamProtocolError("a malformed chunked body (\(error))")
            return
        }
        writePendingHead()
        if !request.responseBody.isComplete && startSpliceIfWorthIt() { return }
        if !clientIsWritable { upstream?.pauseReads() }
        if request.responseBody.isComplete {
            // Bytes beyond the response: the backend is confused; do not reuse its connection.
            if upstreamBytes.readableBytes > 0 { request.upstreamKeepAlive = false }
            responseEnded()
        }
    }

    /// Phase 5: the response is complete. Log it, give the upstream connection back (or close it),
    /// then serve the next request or close.
    func responseEnded() {
        guard clientAttached else { return }
        let now = loop.eventLoop.now
        let (reuse, close) = machine.responseEnded(upstreamKeepAlive: request.upstreamKeepAlive, now: now)
        loop.meter.record(slot: request.meteredBackend?.slot, status: request.status,
                          micros: UInt64(max(0, (now - request.startedAt).nanoseconds / 1000)))
        logRequest(status: request.status)
        if let connection = upstream {
            upstream = nil
            connection.delegate = nil
            if reuse, let backend = request.backend {
                loop.pool(for: backend).release(connection)
            } else {
                connection.close()
            }
        }
        request.endAttempt()
        upstreamBytes = ByteBuffer()
        if close {
            clientFlushThenClose()
            return
        }
        clientFlush()
        becomeIdle()
    }

    /// The backend broke the protocol: 502 if nothing was relayed yet, else cut; its connection
    /// is closed, never reused.
    private func upstreamProtocolError(_ reason: String) {
        let backend = request.backend
        if let backend { loop.recordFailure(backend) }
        if request.responseHeadDone {
            abandonConnection()
        } else {
            // respondLocally closes the upstream connection and ends the attempt.
            let name = backend.map { "backend \($0.address)" } ?? "the backend"
            respondLocally(status: 502, "tugboat: \(name) sent an invalid response: \(reason)\n")
        }
    }

    func upstreamReadComplete() {
        clientFlush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        machine.upstreamWritabilityChanged(isWritable)
        if isWritable {
            processClientBytes()
            if !(machine.exchange?.requestComplete ?? true) { resumeClientReads() }
        } else {
            pauseClientReads()
        }
    }

    func upstreamClosed(error: Error?) {
        guard case .exchange = machine.state, let backend = request.backend, upstream != nil else { return }
        upstream = nil
        if let splice {
            // What the backend sent before closing was read into `upstreamBytes`: it goes on
            // through the pipe; the closed socket is never spliced from again.
            splice.backendClosed = true
            request.upstreamKeepAlive = false
            spliceReceived(splice)
            return
        }
        if request.responseHeadDone {
            if request.responseBody.isUntilClose {
                request.responseBody = BodyCursor(.none)
                request.upstreamKeepAlive = false
                responseEnded()
            } else {
                abandonConnection()
            }
        } else {
            attemptFailed(backend: backend, cause: (502, "closed the connection before responding"))
        }
    }

    /// The client left while `connection` still owes the response to a request it received whole:
    /// the rest is read and thrown away, and the connection goes back to the pool if the response
    /// ends well within ``ResponseDrain/patience`` (and the request's own deadline) — see
    /// ``UpstreamDrain``. False when that cannot be (the caller closes it): an unfinished request,
    /// a protocol switch asked for, a deadline passed, a body relayed so far that ends only with
    /// the connection.
    func drainAbandonedResponse(on connection: UpstreamHandler) -> Bool {
        let now = loop.eventLoop.now
        guard let exchange = machine.exchange, exchange.requestComplete, !exchange.isUpgrade,
              case .attached = exchange.upstream, let backend = request.backend, connection.isOpen,
              exchange.deadline > now else { return false }
        let drain: ResponseDrain
        if request.responseHeadDone {
            guard request.upstreamKeepAlive else { return false }
            drain = ResponseDrain(requestMethod: request.method, body: request.responseBody)
        } else {
            drain = ResponseDrain(requestMethod: request.method, scanned: scannedResponseBytes)
        }
        UpstreamDrain.start(connection, drain: drain, buffered: upstreamBytes, pool: loop.pool(for: backend),
                            deadline: min(exchange.deadline, now + ResponseDrain.patience), loop: loop)
        upstreamBytes = ByteBuffer()
        return true
    }

    // MARK: Protocol switch (WebSocket): from here on, bytes are glued both ways.

    /// The backend agreed to switch protocols: pass the 101 on, then replace both HTTP handlers
    /// by glue. Bytes that came after the heads (on either side) are handed over first.
    private func startTunnel(_ head: ResponseHead, headBytes: ByteBuffer) {
        guard let context, let connection = upstream, let upstreamChannel = connection.channel else { return }
        machine.responseStarted()
        request.status = 101
        if loop.accessLog != nil { request.log.upstreamNanos = (loop.eventLoop.now - request.startedAt).nanoseconds }
        request.backend?.recordSuccess()
        writeResponseHead(head, headBytes: headBytes, close: false)
        loop.meter.record(slot: request.meteredBackend?.slot, status: 101,
                          micros: UInt64(max(0, (loop.eventLoop.now - request.startedAt).nanoseconds / 1000)))
        // Logged as the tunnel starts: its line says who switched protocols, not how long the tunnel lived.
        logRequest(status: 101)
        request.endAttempt()
        machine.switchedToTunnel()
        timer?.cancel()
        timer = nil
        upstream = nil
        connection.delegate = nil
        let fromClient = clientBytes, fromUpstream = upstreamBytes
        clientBytes = ByteBuffer()
        upstreamBytes = ByteBuffer()
        let clientChannel = context.channel
        let idleTimeout = loop.configuration.idleTimeout
        let written = context.eventLoop.makePromise(of: Void.self)
        clientWritesDone(context, promise: written)
        written.futureResult.assumeIsolated().whenComplete { result in
            // Not inside this handler's callbacks: it must return before it is removed.
            clientChannel.eventLoop.assumeIsolated().execute {
                do {
                    guard case .success = result else { throw ChannelError.ioOnClosedChannel }
                    try Self.switchToTunnel(client: clientChannel, upstream: upstreamChannel, idleTimeout: idleTimeout,
                                            fromClient: fromClient, fromUpstream: fromUpstream)
                } catch {
                    clientChannel.close(promise: nil)
                    upstreamChannel.close(promise: nil)
                }
            }
        }
    }

    private static func switchToTunnel(client: Channel, upstream: Channel, idleTimeout: TimeAmount,
                                       fromClient: ByteBuffer, fromUpstream: ByteBuffer) throws {
        let (clientGlue, upstreamGlue) = GlueHandler.matchedPair()
        let clientOps = client.pipeline.syncOperations
        let upstreamOps = upstream.pipeline.syncOperations
        try clientOps.addHandler(IdleStateHandler(allTimeout: idleTimeout))
        try clientOps.addHandler(clientGlue)
        try upstreamOps.addHandler(upstreamGlue)
        clientOps.removeHandler(try clientOps.handler(type: ProxyHandler.self), promise: nil)
        upstreamOps.removeHandler(try upstreamOps.handler(type: UpstreamHandler.self), promise: nil)
        if fromClient.readableBytes > 0 { upstream.writeAndFlush(fromClient, promise: nil) }
        if fromUpstream.readableBytes > 0 { client.writeAndFlush(fromUpstream, promise: nil) }
        client.read()
        upstream.read()
    }
}
