import NIOCore
import NIOEmbedded
import Testing
import TugboatCore
@testable import TugboatProxy

/// An upstream pool's line: requests that find no idle connection take the first one free, with
/// at most four dials under way for them.
@Suite("Upstream pool: the line of requests waiting for a connection")
struct UpstreamLineTests {
    /// Dials that complete when the test says.
    final class HeldDials: UpstreamConnector {
        let loop: EmbeddedEventLoop
        var pending: [EventLoopPromise<UpstreamHandler>] = []
        var channels: [EmbeddedChannel] = []
        init(loop: EmbeddedEventLoop) { self.loop = loop }

        func connect(to backend: ProxyBackend, on eventLoop: EventLoop) -> EventLoopFuture<UpstreamHandler> {
            let promise = eventLoop.makePromise(of: UpstreamHandler.self)
            pending.append(promise)
            return promise.futureResult
        }

        /// Completes the oldest dial with a fresh connection.
        func succeedOne(_ backend: ProxyBackend) throws {
            let handler = UpstreamHandler(backend: backend)
            let channel = EmbeddedChannel(handler: handler, loop: loop)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9000 + channels.count)).wait()
            channels.append(channel)
            pending.removeFirst().assumeIsolated().succeed(handler)
        }

        func failOne() { pending.removeFirst().fail(ChannelError.connectTimeout(.seconds(1))) }
    }

    final class Waiter: UpstreamWaiter {
        var waiting = true
        var got: UpstreamHandler?
        var failed = false
        func isWaitingForUpstream(attempt: UInt64) -> Bool { waiting && attempt == 1 }
        func takeUpstream(_ connection: UpstreamHandler) { got = connection; waiting = false }
        func upstreamDialFailed(_ error: Error) { failed = true; waiting = false }
    }

    let loop = EmbeddedEventLoop()
    let backend = ProxyBackend(address: HostPort(host: "127.0.0.1", port: 9100),
                               socketAddress: try! SocketAddress(ipAddress: "127.0.0.1", port: 9100), slot: 0)

    /// A pool on the embedded loop whose dials complete when the test says.
    func heldPool(maxIdle: Int = 64) -> (HeldDials, UpstreamPool) {
        let dials = HeldDials(loop: loop)
        return (dials, UpstreamPool(backend: backend, eventLoop: loop, maxIdle: maxIdle, connector: dials))
    }

    /// `count` requests joining `pool`'s line, in order.
    func line(_ count: Int, at pool: UpstreamPool) -> [Waiter] {
        let waiters = (0..<count).map { _ in Waiter() }
        for waiter in waiters { pool.wait(waiter, attempt: 1) }
        return waiters
    }

    @Test("a burst of 40 waits behind four dials; each connection dialled or given back goes to the first still in line, in order")
    func burstTakesFirstFree() throws {
        let (dials, pool) = heldPool()
        let waiters = line(40, at: pool)
        #expect(pool.dialing == UpstreamPool.maxDialsInFlight && dials.pending.count == UpstreamPool.maxDialsInFlight)

        // One gives up (timed out): it is skipped, and not dialled for.
        waiters[1].waiting = false
        try dials.succeedOne(backend)
        #expect(waiters[0].got != nil && waiters[1].got == nil && waiters[2].got == nil)
        #expect(dials.pending.count == UpstreamPool.maxDialsInFlight, "a dial done: the next one starts while more than four wait")

        // A connection given back goes to the next in line after the turn, not from inside the release.
        let first = try #require(waiters[0].got)
        pool.release(first)
        #expect(waiters[2].got == nil)
        loop.run()
        #expect(waiters[2].got === first && pool.idleCount == 0)

        // The rest are served by the dials; the surplus dialled for the line ends up idle.
        while !dials.pending.isEmpty { try dials.succeedOne(backend) }
        #expect(waiters.enumerated().allSatisfy { $0.offset == 1 || $0.element.got != nil })
        let served = waiters.dropFirst(2).compactMap { $0.got.map(ObjectIdentifier.init) }
        #expect(served.count == 38 && Set(served).count == 38, "no connection given twice")
        #expect(dials.channels.count <= 38, "the given-back connection saved a dial")
    }

    @Test("a failed dial fails the first in line; then every waiting request gets a dial of its own until one succeeds")
    func failureLiftsTheCap() throws {
        let (dials, pool) = heldPool()
        let waiters = line(30, at: pool)
        #expect(dials.pending.count == UpstreamPool.maxDialsInFlight)
        dials.failOne()
        #expect(waiters[0].failed && !waiters[1].failed)
        #expect(dials.pending.count == 29, "a backend that does not answer fails the line within one connect timeout")
        try dials.succeedOne(backend)
        #expect(waiters[1].got != nil)
        // Back under the cap: no new dial until the line outgrows the dials under way.
        #expect(dials.pending.count == 28)
        let late = line(5, at: pool)
        #expect(dials.pending.count == 28)
        try dials.succeedOne(backend)
        #expect(dials.pending.count == 27, "a dial done with more dials under way than the cap: none started")
        while !dials.pending.isEmpty { try dials.succeedOne(backend) }
        #expect((waiters.dropFirst() + late).allSatisfy { $0.got != nil })
    }

    @Test("slow dials do not hold the line: once the first in line has waited 50 ms, every request waiting gets a dial of its own")
    func patienceLiftsTheCap() throws {
        let (dials, pool) = heldPool()
        let waiters = line(10, at: pool)
        #expect(dials.pending.count == UpstreamPool.maxDialsInFlight)
        loop.advanceTime(by: UpstreamPool.patience - .milliseconds(1))
        #expect(dials.pending.count == UpstreamPool.maxDialsInFlight, "a burst's line, still capped")
        loop.advanceTime(by: .milliseconds(1))
        #expect(dials.pending.count == 10, "an overloaded backend's slow dials: each request dials, as without the line")
        while !dials.pending.isEmpty { try dials.succeedOne(backend) }
        #expect(waiters.allSatisfy { $0.got != nil })

        // A new line is capped again, and looked at again 50 ms after its own first request.
        let later = line(6, at: pool)
        #expect(dials.pending.count == UpstreamPool.maxDialsInFlight)
        loop.advanceTime(by: UpstreamPool.patience)
        #expect(dials.pending.count == 6)
        while !dials.pending.isEmpty { try dials.succeedOne(backend) }
        #expect(later.allSatisfy { $0.got != nil })
    }

    @Test("a full pool keeps a connection given back while requests wait for one")
    func fullPoolStillServesTheLine() throws {
        let (dials, pool) = heldPool(maxIdle: 0)
        let holder = Waiter()
        pool.wait(holder, attempt: 1)
        try dials.succeedOne(backend)
        let waiter = Waiter()
        pool.wait(waiter, attempt: 1)
        pool.release(try #require(holder.got))
        loop.run()
        #expect(waiter.got === holder.got)
    }
}
