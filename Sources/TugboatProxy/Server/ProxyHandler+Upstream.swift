import NIOCore
import NIOHTTP1
import TugboatCore

// Phases 2 and 3: choose an upstream, send it the rewritten request; retry where that is safe.
extension ProxyHandler {
    func chooseUpstream() {
        guard let backend = loop.balancer.pick(from: loop.backends.eligible, excluding: exchange.tried) else {
            if loop.backends.eligible.isEmpty && exchange.tried.isEmpty && loop.configuration.holdWhenEmpty && loop.hold(self) {
                // Scale from zero: wait (up to the request timeout) for an instance to be ready.
                phase = .connecting
                pauseClientReads()
                return
            }
            if let failure = exchange.lastFailure {
                respondLocally(failure.status, failure.message)
            } else {
                respondLocally(.serviceUnavailable, "tugboat: no healthy backend to serve this request\n")
            }
            return
        }
        exchange.beginAttempt(on: backend)
        let pool = loop.pool(for: backend)
        if let connection = pool.takeIdle() {
            attach(connection)
            return
        }
        phase = .connecting
        pauseClientReads()
        attemptID &+= 1
        let thisAttempt = attemptID
        pool.connect().assumeIsolated().whenComplete { result in
            guard self.phase == .connecting, self.attemptID == thisAttempt else {
                // Abandoned (timed out or client gone): keep the fresh connection for someone else.
                if case .success(let connection) = result { pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection)
            case .failure(let error):
                self.attemptFailed(backend: backend, error: error, beforeConnect: true)
            }
        }
    }

    /// A held request: a backend is ready now.
    func backendBecameReady() {
        guard phase == .connecting, upstream == nil, exchange.backend == nil else { return }
        chooseUpstream()
        flushUpstreamIfNeeded()
    }

    private func attach(_ connection: UpstreamHandler) {
        guard let head = exchange.head else { return }
        upstream = connection
        connection.delegate = self
        phase = .forwarding
        connection.write(.head(head))
        for part in exchange.buffered {
            if case .body = part { exchange.bodyForwarded = true }
            connection.write(part)
        }
        exchange.buffered.removeAll()
        if inClientRead {
            upstreamNeedsFlush = true  // flushed once at channelReadComplete
        } else {
            connection.flush()
        }
        if connection.isWritable { resumeClientReads() } else { pauseClientReads() }
    }

    /// The attempt failed before any response byte: retry on another backend if allowed.
    func attemptFailed(backend: ProxyBackend, error: Error?, beforeConnect: Bool) {
        exchange.endAttempt()
        loop.recordFailure(backend)
        let timedOut: Bool
        if case .connectTimeout = error as? ChannelError { timedOut = true } else { timedOut = false }
        let cause: String
        if beforeConnect {
            cause = timedOut ? "connecting timed out" : "connection failed (\(Self.describe(error)))"
        } else {
            cause = "closed the connection before responding"
        }
        exchange.lastFailure = Exchange.Failure(
            status: timedOut ? .gatewayTimeout : .badGateway,
            message: "tugboat: backend \(backend.address) \(cause)\n"
        )
        let attemptsLeft = exchange.tried.count <= loop.configuration.retries
        if exchange.idempotent && !exchange.bodyForwarded && !exchange.isUpgrade && attemptsLeft {
            // Nothing of the body reached a backend: send the request again, to another one.
            if exchange.requestComplete && !exchange.buffered.contains(where: { if case .end = $0 { true } else { false } }) {
                exchange.buffered.append(.end(nil))
            }
            chooseUpstream()
        } else {
            let failure = exchange.lastFailure!
            respondLocally(failure.status, failure.message)
        }
    }

    private static func describe(_ error: Error?) -> String {
        error.map(ErrorText.short) ?? "closed"
    }

    // MARK: Local answers (no backend response)

    /// Answers the client ourselves (503 none healthy, 502 backend failed, 504 timeout).
    func respondLocally(_ status: HTTPResponseStatus, _ message: String) {
        // A body still on its way is not worth reading: close after answering. No body: keep alive.
        if !exchange.requestComplete && exchange.expectsBody { exchange.closeClient = true }
        let head = LocalResponse.head(status: status, version: exchange.clientVersion,
                                      bodyLength: message.utf8.count, close: exchange.closeClient,
                                      requestID: exchange.requestID)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: message)))), promise: nil)
        exchange.status = Int(status.code)
        exchange.meteredBackend = nil
        finishResponse(trailers: nil)
    }

    /// Phase 5: log/meter, then end the response and get ready for the next request.
    func finishResponse(trailers: HTTPHeaders?) {
        let elapsed = NIODeadline.now() - exchange.startedAt
        loop.meter.record(slot: exchange.meteredBackend?.slot, status: exchange.status,
                          micros: UInt64(max(0, elapsed.nanoseconds / 1000)))
        let close = exchange.closeClient
        if close {
            let context = self.context!
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            phase = .closed
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
        if exchange.requestComplete {
            becomeIdle()
        } else {
            phase = .discardingRequestBody
            resumeClientReads()
        }
    }

    // MARK: The request timeout: one lazily re-armed timer per connection

    func armTimer() {
        guard timer == nil else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: exchange.deadline) {
            self.timer = nil
            self.requestTimerFired()
        }
    }

    private func requestTimerFired() {
        guard phase == .connecting || phase == .forwarding else { return }
        if exchange.deadline > .now() {
            armTimer()
            return
        }
        let backend = exchange.backend
        if let upstream {
            self.upstream = nil
            upstream.close()
        }
        exchange.endAttempt()
        if let backend { loop.recordFailure(backend) }
        if exchange.responseStarted {
            // Part of the response is out: the only honest thing left is to cut the connection.
            phase = .closed
            context.close(promise: nil)
        } else {
            let seconds = DurationText.format(loop.configuration.requestTimeout)
            let name = backend.map { "backend \($0.address)" } ?? "no backend"
            attemptID &+= 1
            respondLocally(.gatewayTimeout, "tugboat: \(name) did not respond within \(seconds)\n")
        }
    }
}

enum DurationText {
    static func format(_ amount: TimeAmount) -> String {
        let ms = amount.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}
