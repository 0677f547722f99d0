import CProxyIO
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes to a plain TCP socket straight from the handler, as HAProxy does: what is written up to
/// a flush goes out in one send(2) or sendmsg(2), and only what the socket does not take at once is handed
/// to the NIO channel, which waits for the socket to take more and reports writability as usual.
/// A response that fits the socket (nearly all) costs one system call and none of NIO's per-write
/// bookkeeping (its pending-writes queue, the pipeline's outbound trip, two state checks).
///
/// - Order: nothing goes out directly while the channel may still hold bytes of an earlier write
///   (until NIO reports none buffered), so bytes leave in the order they were written.
/// - The descriptor is used only while the channel is active: NIO marks it inactive (before any
///   callback runs) when it closes the socket, so a number the kernel gives out again is never
///   written to.
/// - An error (the peer gone) is left to the channel: what was not sent is handed to it, and its
///   write fails and closes the connection as any other write error does.
/// - Without a plain socket (TLS in the pipeline, an `EmbeddedChannel`) every write goes through
///   the channel.
struct DirectSocketWriter {
    /// The socket, or -1: writes go through the channel.
    private var descriptor: Int32 = -1
    /// Written, not yet flushed.
    private var queued: [ByteBuffer] = []
    /// Bytes were handed to the channel and may not all be in the socket yet.
    private var channelMayHoldBytes = false
    /// This writer's send in the loop's ``SendBatch`` this turn: made with the batch, before the
    /// flush that applies its result.
    private var batched: (batch: SendBatch, slot: Int)?

    /// At most this many buffers in one sendmsg (the rest follow through the channel).
    static let maxBuffersPerSend = 16

    /// Writes go straight to `context`'s socket from now on (nothing changes without one).
    mutating func attach(to context: ChannelHandlerContext) {
        let socket = try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) { $0 }
        descriptor = socket ?? -1
    }

    /// The channel is closing or handing its socket on: nothing more goes to the descriptor.
    mutating func detach() {
        descriptor = -1
        queued.removeAll()
        batched = nil
    }

    var isDirect: Bool { descriptor >= 0 }

    @inline(__always)
    mutating func write(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        if descriptor >= 0 {
            queued.append(bytes)
        } else {
            context.write(NIOAny(bytes), promise: nil)
        }
    }

    /// Puts this turn's send in the loop's batch, when it would go straight to the socket.
    mutating func prepareSend(context: ChannelHandlerContext, into batch: SendBatch) {
        guard descriptor >= 0, !queued.isEmpty, !channelMayHoldBytes, !batch.isFull, context.channel.isActive else { return }
        batched = (batch, batch.add(descriptor, queued.prefix(Self.maxBuffersPerSend)))
    }

    /// Sends what was written: straight to the socket when it may, the rest through the channel.
    /// A send prepared in the loop's batch has already been made: only its result is applied.
    mutating func flush(context: ChannelHandlerContext) {
        if let (batch, slot) = batched {
            batched = nil
            return finish(sent: batch.result(slot), context: context)
        }
        guard descriptor >= 0 else {
            context.flush()
            return
        }
        guard !queued.isEmpty else { return }
        if channelMayHoldBytes {
            let buffered = (try? context.channel.syncOptions?.getOption(ChannelOptions.bufferedWritableBytes)) ?? 1
            guard buffered == 0 else { return handOver(context) }
            channelMayHoldBytes = false
        }
        guard context.channel.isActive else { return handOver(context) }
        finish(sent: send(), context: context)
    }

    /// `sent` bytes of the queue's front went out (negative: none): drops them, hands the rest on.
    private mutating func finish(sent: Int, context: ChannelHandlerContext) {
        guard !queued.isEmpty else { return }
        var sent = sent
        guard sent >= 0 else { return handOver(context) }
        var index = 0
        while index < queued.count, sent >= queued[index].readableBytes {
            sent -= queued[index].readableBytes
            index += 1
        }
        if index == queued.count {
            queued.removeAll(keepingCapacity: true)
            return
        }
        queued[index].moveReaderIndex(forwardBy: sent)
        queued.removeFirst(index)
        handOver(context)
    }

    /// The queued buffers in one sendmsg: the bytes the socket took, or -1.
    private func send() -> Int {
        let count = min(queued.count, Self.maxBuffersPerSend)
        if count == 1 {
            return queued[0].withUnsafeReadableBytes { tugboat_send(descriptor, $0.baseAddress, $0.count) }
        }
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors in
            for index in 0..<count {
                // The storage stays alive in `queued` for the call (as NIO's own writev does).
                queued[index].withUnsafeReadableBytes { bytes in
                    vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                }
            }
            return tugboat_sendv(descriptor, vectors.baseAddress, Int32(count))
        }
    }

    /// What the socket did not take goes through the channel, which sends it when it can.
    private mutating func handOver(_ context: ChannelHandlerContext) {
        for buffer in queued { context.write(NIOAny(buffer), promise: nil) }
        queued.removeAll(keepingCapacity: true)
        channelMayHoldBytes = true
        context.flush()
    }
}
