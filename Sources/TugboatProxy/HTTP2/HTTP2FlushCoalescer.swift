import NIOCore

/// Between the HTTP/2 handler and TLS on a client connection: many streams' responses finished in
/// one pass of the event loop (each upstream read ends one) leave as one TLS write, not one write
/// and one `write(2)` per stream. Writes pass straight on; a flush is held until the loop has
/// handled the I/O it is busy with (`EventLoop.execute` runs after it), then done once.
/// A close first sends what is held.
final class HTTP2FlushCoalescer: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny

    private var flushScheduled = false
    private var flushPending = false

    func flush(context: ChannelHandlerContext) {
        flushPending = true
        guard !flushScheduled else { return }
        flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            self.flushNow(context: context)
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushNow(context: context)
        context.close(mode: mode, promise: promise)
    }

    private func flushNow(context: ChannelHandlerContext) {
        guard flushPending else { return }
        flushPending = false
        context.flush()
    }
}
