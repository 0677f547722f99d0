import NIOCore
import Testing
@testable import TugboatProxy

/// The connection's decisions, with an injected clock and no I/O.
@Suite("ProxyConnectionStateMachine")
struct ConnectionStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine(retries: Int = 2) -> ProxyConnectionStateMachine {
        ProxyConnectionStateMachine(headerTimeout: .seconds(10), idleTimeout: .seconds(75), requestTimeout: .seconds(60),
                                    retries: retries, now: start)
    }

    @Test("idle, then a partial head: the header deadline replaces the idle one; idle expiry closes silently")
    func deadlines() {
        var m = machine()
        #expect(m.deadline == start + .seconds(75))
        m.headBytesArrived(now: start + .seconds(5))
        #expect(m.deadline == start + .seconds(15))
        #expect(m.timerFired(now: start + .seconds(14), clientWritable: true) == .rearm(start + .seconds(15)))
        #expect(m.timerFired(now: start + .seconds(15), clientWritable: true) == .headTimedOut)
        #expect(m.state == .closed)

        var idle = machine()
        #expect(idle.timerFired(now: start + .seconds(75), clientWritable: true) == .closeIdle)
    }

    @Test("a request timeout is the client's fault while the backend waits for the body, else the backend's")
    func whoseFault() {
        var slowClient = machine()
        slowClient.requestHeadParsed(now: start, idempotent: false, isUpgrade: false, bodyless: false, closeClient: false)
        slowClient.attemptStarted()
        slowClient.upstreamAttached(writable: true)
        slowClient.requestBodyForwarded()
        #expect(slowClient.timerFired(now: start + .seconds(60), clientWritable: true) == .clientTooSlow)

        var stuckBackend = machine()
        stuckBackend.requestHeadParsed(now: start, idempotent: false, isUpgrade: false, bodyless: false, closeClient: false)
        stuckBackend.attemptStarted()
        stuckBackend.upstreamAttached(writable: false)  // the backend stopped reading the body
        #expect(stuckBackend.timerFired(now: start + .seconds(60), clientWritable: true) == .backendTimedOut(closeClient: true))

        var slowAnswer = machine()
        slowAnswer.requestHeadParsed(now: start, idempotent: true, isUpgrade: false, bodyless: true, closeClient: false)
        slowAnswer.attemptStarted()
        slowAnswer.upstreamAttached(writable: true)
        #expect(slowAnswer.timerFired(now: start + .seconds(60), clientWritable: true) == .backendTimedOut(closeClient: false))

        var midResponse = machine()
        midResponse.requestHeadParsed(now: start, idempotent: true, isUpgrade: false, bodyless: true, closeClient: false)
        midResponse.attemptStarted()
        midResponse.upstreamAttached(writable: true)
        midResponse.responseStarted()
        #expect(midResponse.timerFired(now: start + .seconds(60), clientWritable: false) == .cut(blameBackend: false))
    }

    @Test("retries: idempotent, nothing of the body sent, not an upgrade, attempts left")
    func retries() {
        var get = machine(retries: 1)
        get.requestHeadParsed(now: start, idempotent: true, isUpgrade: false, bodyless: true, closeClient: false)
        get.attemptStarted()
        let outcome1 = get.attemptFailed()
        #expect(outcome1 == .retry)
        get.attemptStarted()
        #expect(get.attemptFailed() == .respond)  // retries used up

        var put = machine()
        put.requestHeadParsed(now: start, idempotent: true, isUpgrade: false, bodyless: false, closeClient: false)
        put.attemptStarted()
        put.upstreamAttached(writable: true)
        put.requestBodyForwarded()
        let outcome2 = put.attemptFailed()
        #expect(outcome2 == .respond)

        var post = machine()
        post.requestHeadParsed(now: start, idempotent: false, isUpgrade: false, bodyless: true, closeClient: false)
        post.attemptStarted()
        let outcome3 = post.attemptFailed()
        #expect(outcome3 == .respond)

        var upgrade = machine()
        upgrade.requestHeadParsed(now: start, idempotent: true, isUpgrade: true, bodyless: true, closeClient: false)
        upgrade.attemptStarted()
        let outcome4 = upgrade.attemptFailed()
        #expect(outcome4 == .respond)
    }

    @Test("connections are reused only when the request was read to its end")
    func reuse() {
        var complete = machine()
        complete.requestHeadParsed(now: start, idempotent: true, isUpgrade: false, bodyless: true, closeClient: false)
        let done = complete.responseEnded(upstreamKeepAlive: true, now: start + .seconds(1))
        #expect(done.reuseUpstream && !done.closeClient)
        #expect(complete.state == .idle(since: start + .seconds(1)))

        var early = machine()
        early.requestHeadParsed(now: start, idempotent: false, isUpgrade: false, bodyless: false, closeClient: false)
        let cut = early.responseEnded(upstreamKeepAlive: true, now: start)
        #expect(!cut.reuseUpstream && cut.closeClient)

        var closing = machine()
        closing.requestHeadParsed(now: start, idempotent: true, isUpgrade: false, bodyless: true, closeClient: true)
        let closed = closing.responseEnded(upstreamKeepAlive: true, now: start)
        #expect(closed.closeClient)
    }

    @Test("graceful shutdown: a busy connection closes after its response; an idle one after the request that comes within the grace, or at its end")
    func quiesce() {
        var busy = machine()
        busy.requestHeadParsed(now: start, idempotent: true, isUpgrade: false, bodyless: true, closeClient: false)
        busy.quiesce(now: start)
        #expect(busy.exchange?.closeClient == true)
        #expect(busy.responseEnded(upstreamKeepAlive: true, now: start).closeClient)

        // Idle: not closed at once (a request may be on its way); the grace is the new deadline.
        var idle = machine()
        idle.quiesce(now: start + .seconds(3))
        #expect(idle.deadline == start + .seconds(3) + ProxyConnectionStateMachine.quiesceGrace)
        #expect(idle.timerFired(now: start + .seconds(3), clientWritable: true) != .closeIdle)
        #expect(idle.timerFired(now: start + .seconds(3) + ProxyConnectionStateMachine.quiesceGrace, clientWritable: true) == .closeIdle)

        // A request arriving within the grace is answered, then the connection closes.
        var answered = machine()
        answered.quiesce(now: start)
        answered.headBytesArrived(now: start + .milliseconds(10))
        answered.requestHeadParsed(now: start + .milliseconds(10), idempotent: false, isUpgrade: false, bodyless: true, closeClient: false)
        #expect(answered.exchange?.closeClient == true)
        #expect(answered.responseEnded(upstreamKeepAlive: true, now: start + .milliseconds(20)).closeClient)

        // A head half read when shutdown begins is read to its end and answered, not cut.
        var reading = machine()
        reading.headBytesArrived(now: start)
        reading.quiesce(now: start)
        #expect(reading.state == .readingHead(firstByteAt: start))
        reading.requestHeadParsed(now: start, idempotent: true, isUpgrade: false, bodyless: true, closeClient: false)
        #expect(reading.exchange?.closeClient == true)

        // An idle timeout nearer than the grace still applies.
        var nearIdleEnd = machine()
        nearIdleEnd.quiesce(now: start + .milliseconds(74_500))
        #expect(nearIdleEnd.deadline == start + .seconds(75))
    }
}

/// When an idle connection is parked (set aside without its channel).
@Suite("ProxyConnectionStateMachine parking")
struct ConnectionParkingTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    func machine(parkAfter: TimeAmount? = .seconds(1)) -> ProxyConnectionStateMachine {
        ProxyConnectionStateMachine(headerTimeout: .seconds(10), idleTimeout: .seconds(75), requestTimeout: .seconds(60),
                                    retries: 2, now: start, parkAfter: parkAfter)
    }

    @Test("idle for parkAfter: park, keeping the idle deadline as the time to close it; once per idle spell")
    func parksOncePerIdleSpell() {
        var m = machine()
        #expect(m.deadline == start + .seconds(1))
        #expect(m.timerFired(now: start + .milliseconds(500), clientWritable: true) == .rearm(start + .seconds(1)))
        #expect(m.timerFired(now: start + .seconds(1), clientWritable: true) == .park(closeAt: start + .seconds(75)))
        // While the parking is under way (or after it could not be done) the idle deadline stands.
        #expect(m.deadline == start + .seconds(75))
        #expect(m.timerFired(now: start + .seconds(75), clientWritable: true) == .closeIdle)
    }

    @Test("a request resets it: the next idle spell parks again")
    func nextSpellParksAgain() {
        var m = machine()
        _ = m.timerFired(now: start + .seconds(1), clientWritable: true)
        let t = start + .seconds(2)
        m.requestHeadParsed(now: t, idempotent: true, isUpgrade: false, bodyless: true, closeClient: false)
        m.upstreamAttached(writable: true)
        m.responseStarted()
        _ = m.responseEnded(upstreamKeepAlive: true, now: t + .milliseconds(5))
        #expect(m.deadline == t + .milliseconds(5) + .seconds(1))
        #expect(m.timerFired(now: t + .seconds(2), clientWritable: true) == .park(closeAt: t + .milliseconds(5) + .seconds(75)))
    }

    @Test("never parked: during graceful shutdown, after neverPark (HTTP/2 streams), or without parkAfter")
    func notParked() {
        var quiescing = machine()
        quiescing.quiesce(now: start + .milliseconds(100))
        #expect(quiescing.deadline == start + .milliseconds(100) + ProxyConnectionStateMachine.quiesceGrace)
        #expect(quiescing.timerFired(now: start + .seconds(2), clientWritable: true) == .closeIdle)
        var stream = machine()
        stream.neverPark()
        #expect(stream.deadline == start + .seconds(75))
        #expect(machine(parkAfter: nil).deadline == start + .seconds(75))
        // A parkAfter beyond the idle timeout never parks.
        #expect(machine(parkAfter: .seconds(80)).deadline == start + .seconds(75))
    }
}
