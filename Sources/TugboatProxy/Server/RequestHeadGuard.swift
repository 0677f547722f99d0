import NIOCore

/// Sits in front of the HTTP decoder and enforces two deadlines with a single lazily re-armed timer:
/// `header` — a request head must be complete within this time of its first byte (slowloris gets
/// 408 and is cut), and `idle` — a keep-alive connection waiting for its next request is closed.
final class RequestHeadGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case waitingForHead(firstByteAt: NIODeadline?)
        case inRequest
    }

    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var phase: Phase = .waitingForHead(firstByteAt: nil)
    private var idleSince: NIODeadline = .now()
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline = .distantFuture
    private weak var context: ChannelHandlerContext?

    init(headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        idleSince = context.eventLoop.now
        arm(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .waitingForHead(nil) = phase {
            phase = .waitingForHead(firstByteAt: context.eventLoop.now)
        }
        context.fireChannelRead(data)
        // The decoder runs synchronously: if the head is still incomplete after this read, the
        // header deadline applies, which may be sooner than the idle one the timer is set for.
        if case .waitingForHead(.some) = phase, let deadline = currentDeadline, deadline < timerDeadline {
            arm(context: context)
        }
    }

    /// The proxy parsed a complete request head.
    func headReceived() { phase = .inRequest }

    /// The response is complete and the connection waits for the next request.
    func responseCompleted() {
        phase = .waitingForHead(firstByteAt: nil)
        guard let context else { return }
        idleSince = context.eventLoop.now
        if timer == nil { arm(context: context) }
    }

    private var currentDeadline: NIODeadline? {
        switch phase {
        case .inRequest: return nil
        case .waitingForHead(let firstByteAt?): return firstByteAt + headerTimeout
        case .waitingForHead(nil): return idleSince + idleTimeout
        }
    }

    private func arm(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        timerDeadline = .distantFuture
        guard let deadline = currentDeadline else { return }
        timerDeadline = deadline
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            loopBound.value.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        timerDeadline = .distantFuture
        guard let context, let deadline = currentDeadline else { return }
        if deadline > context.eventLoop.now {
            arm(context: context)
            return
        }
        switch phase {
        case .waitingForHead(.some):
            let response = LocalResponse.raw(status: 408, reason: "Request Timeout",
                                              body: "tugboat: the request head was not received in time\n",
                                              allocator: context.channel.allocator)
            context.writeAndFlush(wrapOutboundOut(response)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        case .waitingForHead(nil):
            context.close(promise: nil)
        case .inRequest:
            break
        }
    }
}
