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
    /// The exchange using the connection; nil while idle in the pool. A strong reference: the
    /// exchange clears it whenever it lets the connection go (back to the pool, closed, or handed
    /// to a tunnel), and the connection clears it when it closes. (A weak one gives every exchange
    /// object a side table, a `malloc` per HTTP/2 stream.)
    var delegate: UpstreamDelegate?
    /// The pool it belongs to (told when the connection closes while idle there).
    weak var pool: UpstreamPool?
    /// When it was put back in the pool (for the idle sweep).
    var idleSince: NIODeadline = .now()
    private(set) var isOpen = true
    private var readsPaused = false
    private var readPending = false
    private var lastError: Error?

    /// A plain TCP socket (no TLS in between): response bodies may be spliced from it.
    let spliceable: Bool

    /// Large responses: up to 256 KiB per read (fewer reads and pipeline trips per MiB); the
    /// allocator shrinks back for small responses.
    static let readAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 * 1024)
    /// While a body is spliced the channel reads only to learn that the backend sent more: one
    /// small read, the rest goes through the pipe.
    static let spliceReadAllocator = FixedSizeRecvByteBufferAllocator(capacity: 512)
    static let defaultMessagesPerRead: UInt = 4

    init(backend: ProxyBackend, spliceable: Bool = false) {
        self.backend = backend
        self.spliceable = spliceable
    }

    var channel: Channel? { context?.channel }
    /// The channel's writability as its last change reported it: the same as asking the channel,
    /// without reaching into it (its flag sits in a cache line that a connection idle in the pool
    /// has lost; the read showed in profiles of HTTP/2, where a burst takes many such connections).
    private(set) var isWritable = false

    /// Writes to the backend's socket (straight to it when there is no TLS in between).
    private var socket = DirectSocketWriter()

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        isWritable = context.channel.isWritable
        if spliceable { socket.attach(to: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Handed to a tunnel (the connection lives on without this handler): no longer the pool's.
        pool?.forget(self)
        pool = nil
        self.context = nil
        isWritable = false
        socket.detach()
    }

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
        isWritable = context.channel.isWritable
        delegate?.upstreamWritabilityChanged(isWritable: isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        lastError = error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        isOpen = false
        isWritable = false
        socket.detach()
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

    /// The socket's descriptor, for splice(2) (only while the channel is open; never closed here).
    var socketDescriptor: Int32? {
        guard spliceable, isOpen, let context else { return nil }
        return try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { $0 }
    }

    /// A body is about to be spliced: the channel reads only when asked (``readOnce()``), a little.
    func enterSpliceMode() {
        readsPaused = true
        let options = context?.channel.syncOptions
        try? options?.setOption(.recvAllocator, value: Self.spliceReadAllocator)
        try? options?.setOption(.maxMessagesPerRead, value: 1)
    }

    /// The spliced body is through: reads as before.
    func leaveSpliceMode() {
        let options = context?.channel.syncOptions
        try? options?.setOption(.recvAllocator, value: Self.readAllocator)
        try? options?.setOption(.maxMessagesPerRead, value: Self.defaultMessagesPerRead)
        resumeReads()
    }

    /// One read when the backend has something (reads stay paused otherwise).
    func readOnce() {
        readPending = false
        context?.read()
    }

    @inline(__always)
    func write(_ bytes: ByteBuffer) {
        guard let context else { return }
        socket.write(bytes, context: context)
    }

    func flush() {
        guard let context else { return }
        socket.flush(context: context)
    }

    func close() {
        guard isOpen else { return }
        delegate = nil
        context?.close(promise: nil)
    }
}
