import NIOCore

// The client side of an exchange: the handler's own channel (HTTP/1.1), or one stream of an
// HTTP/2 connection (``HTTP2Stream``, no channel of its own). Every write, flush, close and read
// request towards the client goes through these, so the exchange logic is the same for both.
extension ProxyHandler {
    /// Serves one HTTP/2 stream: its requests are forwarded with `Via: 2 tugboat` and logged as
    /// HTTP/2.0; the client's address and trust are the connection's.
    func attach(to stream: HTTP2Stream, clientIP: [UInt8], trusted: Bool) {
        self.stream = stream
        forwarding.http2 = true
        forwarding.clientIP = clientIP
        forwarding.trusted = trusted
        forwarding.https = true
        machine.neverPark()  // a stream has no socket of its own
        ensureTimer()
    }

    /// The stream is gone (after ``clientClosed()``, which stops the timer): let go of it, as
    /// it holds this handler.
    func detachStream() {
        stream = nil
    }

    /// After ``detachStream()``: the handler made as a new one for another HTTP/2 stream on its
    /// loop, or false if anything of the last one is still attached (then it is not reused). What
    /// outlives a stream is only what cannot mislead the next: `attemptID` goes on counting, so a
    /// pool's line or a late dial still holding the last attempt's number never matches, and the
    /// reusable buffers (`accessLogBytes`) are written afresh for each request. The rest is set
    /// as ``init(loop:plainSocket:)`` sets it (`forwarding` by ``attach(to:clientIP:trusted:)``;
    /// `request` is a fresh context already, left by ``clientClosed()``).
    func madeAsNewForAnotherStream() -> Bool {
        guard stream == nil, context == nil, upstream == nil, splice == nil, timer == nil, headsWritten.isEmpty,
              !clientFlushQueued, !request.logPending, request.backend == nil, request.startedAt == .uptimeNanoseconds(0) else {
            return false
        }
        machine = Self.newMachine(loop)
        configurationGeneration = loop.configurationGeneration
        clientBytes = ByteBuffer()
        scannedHeadBytes = 0
        upstreamBytes = ByteBuffer()
        scannedResponseBytes = 0
        pendingResponseHead = nil
        clientReadsPaused = false
        clientReadPending = false
        upstreamNeedsFlush = false
        inClientRead = false
        timerDeadline = .distantFuture
        return true
    }

    var clientAttached: Bool { stream != nil || context != nil }

    var clientIsWritable: Bool {
        if let stream { return stream.isWritable }
        if splice?.waitingForClient == true { return false }
        return context?.channel.isWritable ?? false
    }

    @inline(__always)
    func clientWrite(_ bytes: ByteBuffer) {
        if let stream {
            stream.write(bytes)
        } else if let context {
            clientSocket.write(bytes, context: context)
        }
    }

    /// Sends what was written to the client: over a channel at the end of the loop's turn, with
    /// the turn's other responses (``TurnEndFlushes``); anything that must know the bytes left (a
    /// splice, a tunnel, a close, giving up the channel) goes through
    /// ``clientWritesDone(_:promise:)``, which sends them at once.
    func clientFlush() {
        if let stream {
            stream.flush()
        } else if context != nil, !clientFlushQueued {
            clientFlushQueued = true
            loop.flushAtEndOfTurn(self)
        }
    }

    func prepareTurnEndSend(into batch: SendBatch) {
        if stream == nil, let context { clientSocket.prepareSend(context: context, into: batch) }
    }

    func flushAtTurnEnd() {
        clientFlushQueued = false
        if let context { clientSocket.flush(context: context) }
        for buffer in headsWritten { loop.returnHeadBuffer(buffer) }
        headsWritten.removeAll(keepingCapacity: true)
    }

    /// A head buffer written to the client goes back to the loop's spares once it is sent, at the
    /// turn's end: given back sooner, another connection took it while the write still held it,
    /// and writing into it copied it (a `malloc` each time).
    func returnAfterFlush(_ head: ByteBuffer) {
        if stream == nil && context != nil {
            headsWritten.append(head)
            clientFlush()  // it was written to be sent: the turn's end is when
        } else {
            loop.returnHeadBuffer(head)
        }
    }

    /// Completes `promise` once everything written to the client's channel is in its socket.
    func clientWritesDone(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        clientSocket.flush(context: context)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: promise)
    }

    /// Sends what is written, then ends the client side: the channel closes; a stream ends (or is
    /// reset when its request or response is unfinished).
    func clientFlushThenClose() {
        if let stream {
            stream.finish()
        } else if let context {
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            clientWritesDone(context, promise: written)
        }
    }

    /// Ends the client side at once (an idle connection, an exchange that cannot finish).
    func clientClose() {
        if let stream { stream.reset() } else { context?.close(promise: nil) }
    }

    /// The handler can take more of the request.
    func clientRead() {
        if let stream { stream.requestMore() } else { context?.read() }
    }
}
