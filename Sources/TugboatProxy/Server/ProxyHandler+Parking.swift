import CProxyIO
import Glibc
import NIOCore

// An idle keep-alive connection gives up its channel (see ParkingLot.swift).
extension ProxyHandler {
    /// How long an idle plain HTTP/1.1 connection keeps its channel before it is parked. A busy
    /// client's next request comes sooner and never meets the parking lot; a browser's idle
    /// connection waits there for its next click at a fraction of the memory.
    static let parkAfter: TimeAmount = .seconds(1)

    /// Parks the connection once everything written to it is out; the channel then closes while
    /// its socket (a duplicate of it) waits in the loop's parking lot. Until then (and if it cannot
    /// be parked) the idle deadline stands.
    func park(closeAt: NIODeadline) {
        ensureTimer()
        guard let context, stream == nil, let lot = loop.parkingLot, case .idle(let since) = machine.state,
              clientBytes.readableBytes == 0, upstream == nil else { return }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { result in
            // Still the same idle spell, with nothing read meanwhile?
            guard case .success = result, case .idle(since) = self.machine.state, self.clientBytes.readableBytes == 0,
                  let context = self.context else { return }
            let duplicate = try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) {
                tugboat_dup($0)
            }
            guard let fd = duplicate ?? nil, fd >= 0 else { return }
            self.loop.connections?.hold()
            guard lot.park(fd, from: self.loop, closeAt: closeAt) else {
                Glibc.close(fd)
                self.loop.connections?.release()
                return
            }
            self.machine.closed()  // this channel's part is over; the connection lives on parked
            self.timer?.cancel()
            self.timer = nil
            context.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: written)
    }
}
