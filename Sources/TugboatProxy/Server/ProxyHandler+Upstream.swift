import NIOCore
import TugboatCore

// Phases 2 and 3: choose an upstream, send it the rewritten request; retry where that is safe.
extension ProxyHandler: UpstreamWaiter {
    func chooseUpstream() {
        guard let backend = loop.balancer.pick(from: loop.backends.eligible, excluding: request.tried) else {
            if loop.backends.eligible.isEmpty && request.tried.isEmpty && loop.configuration.holdWhenEmpty && loop.hold(self) {
                // Scale from zero: wait (up to the request timeout) for an instance to be ready.
                pauseClientReads()
                return
            }
            if let failure = request.lastFailure {
                respondLocally(status: failure.status, failure.message)
            } else {
                respondLocally(status: 503, "tugboat: no healthy backend to serve this request\n")
            }
            return
        }
        request.beginAttempt(on: backend)
        machine.attemptStarted()
        let pool = loop.pool(for: backend)
        if let connection = pool.takeIdle() {
            attach(connection)
            return
        }
        pauseClientReads()
        attemptID &+= 1
        pool.wait(self, attempt: attemptID)
    }

    /// Still waiting in a pool's line with attempt `attempt` (not timed out, not gone)?
    func isWaitingForUpstream(attempt: UInt64) -> Bool {
        guard clientAttached, attemptID == attempt, case .exchange(let exchange) = machine.state else { return false }
        return exchange.upstream == .connecting
    }

    /// The pool's line gives this waiting request a connection.
    func takeUpstream(_ connection: UpstreamHandler) {
        attach(connection)
        flushUpstreamIfNeeded()
    }

    /// The dial that was to serve this waiting request failed.
    func upstreamDialFailed(_ error: Error) {
        guard let backend = request.backend else { return }
        attemptFailed(backend: backend, cause: Self.connectFailure(error))
    }

    /// A held request: a backend is ready now.
    func backendBecameReady() {
        guard case .exchange(let exchange) = machine.state, exchange.upstream == .none, upstream == nil,
              request.backend == nil else { return }
        chooseUpstream()
        flushUpstreamIfNeeded()
    }

    private func attach(_ connection: UpstreamHandler) {
        upstream = connection
        connection.delegate = self
        // Whatever a failed earlier attempt sent (part of a head) is not this connection's.
        upstreamBytes = ByteBuffer()
        scannedResponseBytes = 0
        machine.upstreamAttached(writable: connection.isWritable)
        connection.write(request.forwardedHead)
        upstreamNeedsFlush = true
        let bodyToCome = machine.exchange?.requestComplete == false
        if bodyToCome { processClientBytes() }
        if !inClientRead { flushUpstreamIfNeeded() }
        if connection.isWritable && machine.exchange?.requestComplete == false { resumeClientReads() }
    }

    private static func connectFailure(_ error: Error) -> (status: Int, cause: String) {
        if case .connectTimeout = error as? ChannelError { return (504, "connecting timed out") }
        return (502, "connection failed (\(ErrorText.short(error)))")
    }

    /// The attempt failed before any response byte: retry on another backend if allowed.
    func attemptFailed(backend: ProxyBackend, cause: (status: Int, cause: String)) {
        request.endAttempt()
        loop.recordFailure(backend)
        let failure = RequestContext.Failure(status: cause.status, message: "tugboat: backend \(backend.address) \(cause.cause)\n")
        request.lastFailure = failure
        switch machine.attemptFailed() {
        case .retry:
            // Nothing of the body reached a backend: send the request again, to another one.
            chooseUpstream()
        case .respond:
            respondLocally(status: failure.status, failure.message)
        }
    }

    // MARK: Local answers (no backend response)

    /// Answers the client ourselves (503 none healthy, 502 backend failed, 504 timeout, 408).
    func respondLocally(status: Int, _ message: String, forceClose: Bool = false) {
        if let upstream {
            // Whatever the backend was doing for this request, its connection cannot be reused.
            self.upstream = nil
            upstream.close()
        }
        request.endAttempt()
        if forceClose {
            machine.closeClientAfterResponse()
        } else {
            discardBufferedRequestBody()
        }
        let close = machine.answeredLocally(now: loop.eventLoop.now)
        // Logged first: the write may close the connection at once, and the close logs what is pending.
        request.log.bytesOut = Int64(message.utf8.count)
        logRequest(status: status)
        writeLocalResponse(status: status, message, close: close, requestID: request.requestID)
        loop.meter.record(slot: request.meteredBackend?.slot, status: status,
                          micros: UInt64(max(0, (loop.eventLoop.now - request.startedAt).nanoseconds / 1000)))
        if !close { becomeIdle() }
    }

    /// When the rest of an unanswered request's body has already been read (it came with the
    /// head), drop it so the connection can serve the next request. Nothing more is read for it.
    private func discardBufferedRequestBody() {
        guard let exchange = machine.exchange, !exchange.requestComplete, !exchange.bodyForwarded else { return }
        do {
            while let slice = try request.requestBody.take(from: &clientBytes) { request.log.bytesIn &+= Int64(slice.readableBytes) }
        } catch {
            return
        }
        if request.requestBody.isComplete { machine.requestCompleted() }
    }

    /// A request that cannot be served (malformed, too large, not allowed): answer and close.
    func rejectClient(status: Int, _ message: String) {
        if let upstream {
            self.upstream = nil
            upstream.close()
        }
        request.endAttempt()
        machine.closed()
        captureRefusedHead(clientBytes)
        request.log.bytesOut = Int64(message.utf8.count)
        logRequest(status: status)
        writeLocalResponse(status: status, message, close: true, requestID: nil)
        loop.meter.record(slot: nil, status: status, micros: 0)
    }

    private func writeLocalResponse(status: Int, _ message: String, close: Bool, requestID: RequestIDSource?) {
        guard clientAttached else { return }
        var out = ByteBuffer()
        out.reserveCapacity(256 + message.utf8.count)
        LocalResponse.write(status: status, minorVersion: request.clientMinorVersion, body: message, close: close,
                            requestID: requestID, into: &out)
        clientWrite(out)
        if close { clientFlushThenClose() } else { clientFlush() }
    }

    // MARK: Time: one lazily re-armed timer per connection

    /// Makes sure the timer fires no later than the current deadline. A deadline that moved later
    /// is found when the timer fires (it re-arms), so a busy connection rarely touches its timer.
    /// An HTTP/2 stream's handler uses its connection's one timer instead (hundreds of streams
    /// come and go each second: scheduling and cancelling a timer for each was a tenth of the
    /// CPU an HTTP/2 request cost).
    func ensureTimer() {
        guard let deadline = machine.deadline, clientAttached else { return }
        if let stream {
            stream.armTimer(at: deadline)
            return
        }
        if timer != nil && timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        // Throws only when the loop is shutting down, and then no timeout matters any more.
        timer = try? loop.eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: self)
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        timer = nil
        timerDeadline = .distantFuture
        timerFired()
    }

    /// The stream's deadline has passed (its connection's timer found it).
    func streamTimerFired() {
        timerFired()
    }

    private func timerFired() {
        guard clientAttached else { return }
        let action = machine.timerFired(now: loop.eventLoop.now, clientWritable: clientIsWritable)
        switch action {
        case .nothing:
            return
        case .rearm:
            ensureTimer()
        case .closeIdle:
            clientClose()
        case .park(let closeAt):
            park(closeAt: closeAt)
        case .headTimedOut:
            rejectClient(status: 408, "tugboat: the request head was not received in time\n")
        case .clientTooSlow:
            // The backend waited for the body; the client stopped sending it. Not the backend's fault.
            respondLocally(status: 408, "tugboat: the request body was not received in time\n", forceClose: true)
        case .backendTimedOut(let closeClient):
            let backend = request.backend
            if let backend { loop.recordFailure(backend) }
            let name = backend.map { "backend \($0.address)" } ?? "no backend"
            attemptID &+= 1
            respondLocally(status: 504, "tugboat: \(name) did not respond within \(DurationText.format(machine.requestTimeout))\n",
                           forceClose: closeClient)
        case .cut(let blameBackend):
            if blameBackend, let backend = request.backend { loop.recordFailure(backend) }
            abandonConnection()
        }
    }

    /// Part of a response is out and the exchange cannot finish: the client can be told nothing
    /// more than that the connection ended. The upstream connection goes too.
    func abandonConnection() {
        dropSplice()
        if let upstream {
            self.upstream = nil
            upstream.close()
        }
        request.endAttempt()
        machine.closed()
        logUnfinishedRequest()
        clientClose()
    }
}

enum DurationText {
    static func format(_ amount: TimeAmount) -> String {
        let ms = amount.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}
