import NIOCore
import NIOHTTPTypes

/// When an admin connection must be closed for a request head that does not arrive: a head must
/// be complete within `header` of its first byte (or of the connection's start), so a slow or
/// partial head (slowloris) cannot hold a connection. Between requests the idle timeout
/// (Hummingbird's) applies. Pure: time comes in with each event.
struct AdminHeadDeadline {
    enum Phase: Equatable {
        /// Waiting for a head's first byte (after a response): the idle timeout applies, not this.
        case idle
        /// A head is being read, since this instant.
        case readingHead(since: NIODeadline)
        /// A head arrived; its request and response are under way.
        case inRequest
    }

    let header: TimeAmount
    private(set) var phase: Phase = .idle

    init(header: TimeAmount) { self.header = header }

    /// The connection opened, or bytes arrived: a head is being read unless a request is under way.
    mutating func bytesArrived(at now: NIODeadline) {
        if phase == .idle { phase = .readingHead(since: now) }
    }

    mutating func headComplete() { phase = .inRequest }

    mutating func responseEnded() { phase = .idle }

    /// When to close the connection if nothing changes; nil: no deadline of this kind.
    var deadline: NIODeadline? {
        if case .readingHead(let since) = phase { return since + header }
        return nil
    }

    func expired(at now: NIODeadline) -> Bool { deadline.map { now >= $0 } ?? false }
}

/// First in an admin connection's pipeline: sees the raw bytes (a head's first byte) and closes
/// the connection when ``AdminHeadDeadline`` says so.
final class AdminHeadTimeoutHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var machine: AdminHeadDeadline
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(header: TimeAmount) { machine = AdminHeadDeadline(header: header) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { changed { $0.bytesArrived(at: .now()) } }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        changed { $0.bytesArrived(at: .now()) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        changed { $0.bytesArrived(at: .now()) }
        context.fireChannelRead(data)
    }

    /// From ``AdminRequestObserver``, behind the HTTP decoder.
    func headComplete() { changed { $0.headComplete() } }
    func responseEnded() { changed { $0.responseEnded() } }

    private func changed(_ event: (inout AdminHeadDeadline) -> Void) {
        let before = machine.deadline
        event(&machine)
        guard machine.deadline != before else { return }
        timer?.cancel()
        timer = nil
        guard let deadline = machine.deadline, let context else { return }
        timer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            guard machine.expired(at: .now()), let context = self.context else { return }
            context.close(promise: nil)
        }
    }
}

/// Behind the HTTP decoder: tells the ``AdminHeadTimeoutHandler`` in front when a head has been
/// read and when its response has been written.
final class AdminRequestObserver: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var timeout: AdminHeadTimeoutHandler?

    func handlerAdded(context: ChannelHandlerContext) {
        timeout = try? context.pipeline.syncOperations.handler(type: AdminHeadTimeoutHandler.self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { timeout?.headComplete() }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { timeout?.responseEnded() }
        context.write(data, promise: promise)
    }
}
