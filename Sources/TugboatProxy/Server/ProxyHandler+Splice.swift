import NIOCore

/// A response body on its way through a kernel pipe (see ``SpliceRelay``).
final class ResponseSplice {
    let pipe: SplicePipe
    let clientSocket: Int32
    let upstreamSocket: Int32
    var relay: SpliceRelay
    /// Bytes taken out of the pipe are being written through the client's channel: nothing
    /// moves until that write completed (or the order of the bytes would change).
    var waitingForClient = false
    /// The upstream connection closed: only what was read before that is left to relay.
    var backendClosed = false

    init(pipe: SplicePipe, clientSocket: Int32, upstreamSocket: Int32, remaining: Int) {
        self.pipe = pipe
        self.clientSocket = clientSocket
        self.upstreamSocket = upstreamSocket
        relay = SpliceRelay(remaining: remaining, capacity: pipe.capacity)
    }
}

// Phase 4, large bodies: a response body of known length from a plain backend to a plain
// (HTTP/1.1, no TLS) client goes through a kernel pipe with splice(2), never through user space.
extension ProxyHandler {
    /// Bodies with at least this much still to come are spliced (below it the two copies cost
    /// less than setting the pipe up).
    static let spliceThreshold = 64 * 1024

    /// Starts splicing the rest of the response body if it is worth it and both sockets allow it.
    /// The body's bytes already read went out through the channel; splicing starts once they did.
    func startSpliceIfWorthIt() -> Bool {
        guard stream == nil, !forwarding.https, let context, let upstream,
              !request.dechunk, let remaining = request.responseBody.remainingLength,
              remaining >= Self.spliceThreshold, upstreamBytes.readableBytes == 0,
              let upstreamSocket = upstream.socketDescriptor,
              let clientSocket = try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(
                  of: NIOBSDSocket.Handle.self, { $0 }),
              let pipe = loop.takeSplicePipe()
        else { return false }
        let splice = ResponseSplice(pipe: pipe, clientSocket: clientSocket, upstreamSocket: upstreamSocket, remaining: remaining)
        self.splice = splice
        upstream.enterSpliceMode()
        afterClientWrites(splice)
        return true
    }

    /// Bytes the upstream channel read while splicing: they join the body in the pipe.
    func spliceReceived(_ splice: ResponseSplice) {
        guard !splice.waitingForClient else { return }
        pumpSplice(splice)
    }

    /// Moves the body on until something must be waited for.
    func pumpSplice(_ splice: ResponseSplice) {
        guard self.splice === splice else { return }
        splice.relay.beginTurn()
        while true {
            let step = splice.relay.next
            let outcome: SpliceRelay.Outcome
            switch step {
            case .toClient(let count):
                outcome = splice.pipe.drain(to: splice.clientSocket, count: count)
                if case .moved(let moved) = outcome { request.log.bytesOut &+= Int64(moved) }
            case .fromBackend(let count):
                if upstreamBytes.readableBytes > 0 {
                    // Read by the channel (it was told the backend had more): into the pipe, in order.
                    outcome = splice.pipe.put(from: &upstreamBytes, count: count)
                } else if splice.backendClosed {
                    outcome = .endOfInput
                } else {
                    outcome = splice.pipe.fill(from: splice.upstreamSocket, count: count)
                }
            case .writeThroughChannel(let count):
                guard let bytes = splice.pipe.take(count, allocator: context?.channel.allocator ?? ByteBufferAllocator()) else {
                    abandonConnection()
                    return
                }
                splice.relay.tookOut(count)
                request.log.bytesOut &+= Int64(count)
                clientWrite(bytes)
                afterClientWrites(splice)
                return
            case .waitForBackend:
                upstream?.readOnce()
                return
            case .done:
                finishSplice(splice)
                return
            }
            switch splice.relay.record(outcome, of: step) {
            case .next:
                continue
            case .yield:
                loop.eventLoop.assumeIsolated().execute { self.pumpSplice(splice) }
                return
            case .backendFailed, .clientFailed:
                abandonConnection()
                return
            }
        }
    }

    /// Goes on with `splice` once everything written to the client's channel is in its socket
    /// (in a later turn when that is at once, so the relay never calls itself).
    private func afterClientWrites(_ splice: ResponseSplice) {
        guard let context else { return }
        splice.waitingForClient = true
        let promise = context.eventLoop.makePromise(of: Void.self)
        var returned = false
        promise.futureResult.assumeIsolated().whenComplete { result in
            guard self.splice === splice else { return }
            guard case .success = result else {
                self.abandonConnection()
                return
            }
            if returned {
                splice.waitingForClient = false
                self.pumpSplice(splice)
            } else {
                self.loop.eventLoop.assumeIsolated().execute {
                    guard self.splice === splice else { return }
                    splice.waitingForClient = false
                    self.pumpSplice(splice)
                }
            }
        }
        clientWritesDone(context, promise: promise)
        returned = true
    }

    /// The whole body went through: the pipe (empty) goes back to the loop, the upstream
    /// connection reads as usual again, and the response ends as any other.
    private func finishSplice(_ splice: ResponseSplice) {
        self.splice = nil
        loop.returnSplicePipe(splice.pipe)
        loop.splices.record(bytes: splice.relay.length)
        upstream?.leaveSpliceMode()
        request.responseBody = BodyCursor(.none)
        // Bytes beyond the response: the backend is confused; do not reuse its connection.
        if upstreamBytes.readableBytes > 0 { request.upstreamKeepAlive = false }
        responseEnded()
    }

    /// The exchange ended before the body was through: the pipe may hold part of it, so it is
    /// closed, not reused. The upstream connection is closed by the caller.
    func dropSplice() {
        guard let splice else { return }
        self.splice = nil
        splice.pipe.close()
    }
}
