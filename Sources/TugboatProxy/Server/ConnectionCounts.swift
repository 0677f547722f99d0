import NIOCore
import Synchronization

/// Client connections open right now, and how many were refused over `max-connections`
/// (one atomic operation per accept and per close, never per request).
package final class ConnectionCounts: Sendable {
    private let openCount = Atomic<Int>(0)
    private let rejectedCount = Atomic<Int>(0)
    private let parkedCount = Atomic<Int>(0)

    package var open: Int { openCount.load(ordering: .relaxed) }
    package var rejected: Int { rejectedCount.load(ordering: .relaxed) }
    /// Of the open connections, those idle in the parking lot (no channel of their own).
    package var parked: Int { parkedCount.load(ordering: .relaxed) }

    /// Takes a slot for a new connection, or counts a refusal when all are taken.
    func admit(max: Int) -> Bool {
        if openCount.add(1, ordering: .relaxed).newValue <= max { return true }
        openCount.subtract(1, ordering: .relaxed)
        rejectedCount.add(1, ordering: .relaxed)
        return false
    }

    func release() { openCount.subtract(1, ordering: .relaxed) }

    /// A connection's socket outlives its channel (parked): counted once more, released when the
    /// parked socket closes or the channel it comes back as does.
    func hold() { openCount.add(1, ordering: .relaxed) }

    func parkedChanged(by delta: Int) { parkedCount.add(delta, ordering: .relaxed) }

    /// Whether a connection may move to another loop now: a move holds a second descriptor for a
    /// moment, so none starts while the open connections are within a tenth of `max` (whose
    /// budget is two descriptors per connection).
    func roomToMove(max: Int) -> Bool { open < max - max / 10 }
}

/// A connection over `max-connections`: told so with a 503 and closed, without reading a byte.
final class OverCapacityHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: 200)
        LocalResponse.write(status: 503, minorVersion: 1, body: "tugboat: too many connections\n", close: true,
                            requestID: nil, into: &out)
        context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
