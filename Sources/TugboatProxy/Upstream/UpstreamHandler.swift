import NIOCore

/// What an upstream connection reports to the client-side exchange that leased it.
protocol UpstreamDelegate: AnyObject {
    func upstreamReceived(_ bytes: ByteBuffer)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    /// The connection closed or failed while leased.
    func upstreamClosed(error: Error?)
}

/// The only handler of an upstream (proxy → backend) connection: raw bytes both ways, no HTTP
/// codec (the client-side handler parses the response). Lives on the same event loop as the client
/// connection that leases it, so the delegate is called directly, without hops or locks.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let backend: ProxyBackend
    private(set) var context: ChannelHandlerContext?
    /// The exchange using the connection; nil while idle in the pool.
    weak var delegate: UpstreamDelegate?
    /// The pool it belongs to (told when the connection closes while idle there).
    weak var pool: UpstreamPool?
    /// When it was put back in the pool (for the idle sweep).
    var idleSince: NIODeadline = .now()
    private(set) var isOpen = true
    private var readsPaused = false
    private var readPending = false
    private var lastError: Error?

    init(backend: ProxyBackend) {
        self.backend = backend
    }

    var channel: Channel? { context?.channel }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let delegate {
            delegate.upstreamReceived(unwrapInboundIn(data))
        } else {
            // An idle connection has nothing to say; whatever it sent makes it unusable.
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        lastError = error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        let delegate = self.delegate
        self.delegate = nil
        pool?.forget(self)
        pool = nil
        delegate?.upstreamClosed(error: lastError)
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Stops reading from the backend (the client cannot take more right now).
    func pauseReads() { readsPaused = true }

    func resumeReads() {
        guard readsPaused else { return }
        readsPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    @inline(__always)
    func write(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(bytes), promise: nil)
    }

    func flush() { context?.flush() }

    func close() {
        guard isOpen else { return }
        delegate = nil
        context?.close(promise: nil)
    }
}
