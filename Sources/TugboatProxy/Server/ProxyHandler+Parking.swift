import CProxyIO
import Glibc
import NIOCore

// An idle keep-alive connection gives up its channel: parked (see ParkingLot.swift) or moved to
// another event loop (see LoopSpreader.swift).
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
        guard let lot = loop.parkingLot else { return }
        let loop = self.loop
        giveUpChannel { fd in
            // With `threads: auto` a connection parked on a loop that hands its connections over
            // comes back to an active one: it would only move after its next response otherwise,
            // and one that parks between all its requests would never gather.
            let home = loop.spreader?.home(forParkedOn: loop.index) ?? NIOLoopBoundBox(loop, eventLoop: loop.eventLoop)
            return lot.park(fd, home: home, closeAt: closeAt)
        }
    }

    /// `threads: auto`: a connection between requests on a loop that hands connections over
    /// (all of an inactive loop's, an active one's beyond its share) goes to the loop the spreader
    /// named. True when the move is under way. A move holds a second descriptor for the socket
    /// for a moment, so none starts while the open connections are within a tenth of
    /// `max-connections` (whose budget is two descriptors per connection). (Moving right at
    /// accept, before the first request, ran descriptors out under a connection flood at a
    /// 256-descriptor limit: connections are dealt to every loop and an inactive one's move
    /// after their first response.)
    @discardableResult
    func moveToAnotherLoopIfAsked() -> Bool {
        guard let spreader = loop.spreader, loop.movesLeft > 0, let counts = loop.connections,
              counts.roomToMove(max: loop.configuration.maxConnections) else { return false }
        let target = loop.moveTarget
        guard target != loop.index, giveUpChannel(take: { fd in
            spreader.adopt(fd, onLoop: target, counts: counts)
            return true
        }) else { return false }
        loop.movesLeft -= 1
        return true
    }

    /// Once everything written is out, and if the connection is still idle in the same spell with
    /// nothing read meanwhile: a duplicate of its socket goes to `take` (counted open while it is
    /// away; false: refused, the duplicate is closed) and this channel closes, its part over.
    /// False when the connection cannot give up its channel now.
    @discardableResult
    func giveUpChannel(take: @escaping (Int32) -> Bool) -> Bool {
        guard let context, stream == nil, splice == nil, case .idle(let since) = machine.state,
              clientBytes.readableBytes == 0, upstream == nil, let counts = loop.connections else { return false }
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenComplete { result in
            // Still the same idle spell, with nothing read meanwhile?
            guard case .success = result, case .idle(since) = self.machine.state, self.clientBytes.readableBytes == 0,
                  let context = self.context else { return }
            let duplicate = try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) {
                tugboat_dup($0)
            }
            guard let fd = duplicate ?? nil, fd >= 0 else { return }
            counts.hold()
            guard take(fd) else {
                Glibc.close(fd)
                counts.release()
                return
            }
            self.machine.closed()  // this channel's part is over; the connection lives on elsewhere
            self.timer?.cancel()
            self.timer = nil
            context.close(promise: nil)
        }
        clientWritesDone(context, promise: written)
        return true
    }
}
