import NIOCore

/// An upstream connection whose client left before its response ended: it reads the rest of the
/// response into the void (``ResponseDrain`` decides) and goes back to `pool` when that ends
/// well, or is closed — also at `deadline` (``ResponseDrain/patience`` after the client left, or
/// the request's own deadline if sooner) if the response has not ended by then. It is the
/// connection's delegate meanwhile; the pool counts the connection busy.
final class UpstreamDrain: UpstreamDelegate {
    private let connection: UpstreamHandler
    private let pool: UpstreamPool
    private let loop: LoopContext
    private var drain: ResponseDrain
    private var bytes: ByteBuffer
    private var timer: Scheduled<Void>?

    /// Starts draining `connection`; `buffered` is what the backend sent that was not read yet.
    static func start(_ connection: UpstreamHandler, drain: ResponseDrain, buffered: ByteBuffer, pool: UpstreamPool,
                      deadline: NIODeadline, loop: LoopContext) {
        let drainer = UpstreamDrain(connection: connection, drain: drain, buffered: buffered, pool: pool, loop: loop)
        connection.delegate = drainer
        drainer.timer = loop.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { drainer.finish(.close) }
        drainer.advance()
        // Reads may have been paused for a slow client; nobody is slow now.
        if connection.delegate === drainer { connection.resumeReads() }
    }

    private init(connection: UpstreamHandler, drain: ResponseDrain, buffered: ByteBuffer, pool: UpstreamPool, loop: LoopContext) {
        self.connection = connection
        self.drain = drain
        self.bytes = buffered
        self.pool = pool
        self.loop = loop
    }

    func upstreamReceived(_ received: ByteBuffer) {
        bytes.appendArrived(received)
        advance()
    }

    private func advance() {
        var fields: [HeaderField] = []
        swap(&fields, &loop.headerFields)
        let step = drain.consume(&bytes, limits: loop.configuration.headLimits, fields: &fields)
        swap(&fields, &loop.headerFields)
        if bytes.readableBytes == 0 { bytes = ByteBuffer() }
        if step != .needMore { finish(step) }
    }

    private func finish(_ step: ResponseDrain.Step) {
        timer?.cancel()
        timer = nil
        guard connection.delegate === self else { return }
        connection.delegate = nil
        if step == .reusable {
            pool.release(connection)
        } else {
            connection.close()
        }
    }

    func upstreamReadComplete() {}

    func upstreamWritabilityChanged(isWritable: Bool) {}

    func upstreamClosed(error: Error?) {
        timer?.cancel()
        timer = nil
    }
}
