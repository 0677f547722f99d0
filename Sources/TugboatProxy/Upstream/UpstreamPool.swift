import NIOCore

/// Idle keep-alive connections to one backend, on one event loop. LIFO: the warmest connection
/// first, so those at the bottom are the ones a burst needed and the steady load does not; they
/// are closed by ``sweep(olderThan:now:)`` (see ``IdleSurplus``).
///
/// A request that finds none idle waits in line (``wait(_:attempt:)``) for the first connection
/// free: one another request gives back, or one dialled for the line. At most
/// ``maxDialsInFlight`` dials are under way at once, and no more than requests waiting: a burst
/// of 500 requests arriving together (50 HTTP/2 clients' first streams) is carried by connections
/// reused as soon as their responses are in, not by 500 new ones. Measured on a fresh process
/// (`h2load -c50 -m10 -n1000`, nginx behind): a dial per request opened ~490 connections and the
/// requests took 48–52 ms on average (max 92–97), HAProxy 13–27 (max 30–43); four dials at a time,
/// ~165 connections and 17–21 ms (max 37–43) — eight gave 22 (max 54), sixteen 33 (max 72). The
/// steady state does not change: a warm pool has a connection idle for nearly every request. A
/// dial on loopback or a LAN takes well under a millisecond, so four at a time still open
/// thousands a second when responses are slow to come back. A failed dial fails the first request
/// in line (which retries elsewhere as before); until a dial succeeds again every request waiting
/// gets a dial of its own, so a backend that does not answer fails the line in a connect timeout
/// or two. Nor does a slow one hold it: once the first request in line has waited ``patience``
/// (far longer than a burst's line lasts, far shorter than a SYN retransmitted to an overloaded
/// backend), every request waiting gets a dial of its own, as without the line. The line is a ring
/// buffer: one that never empties does not grow.
final class UpstreamPool {
    let backend: ProxyBackend
    private let eventLoop: EventLoop
    private var idle: [UpstreamHandler] = []
    private let maxIdle: Int
    private let connector: UpstreamConnector
    private var surplus = IdleSurplus()
    private var lastPurge: NIODeadline = .now()
    /// Open connections dialled for this pool, idle or busy (each leaves through ``forget(_:)``).
    private var openCount = 0
    private var busyCount: Int { max(0, openCount - idle.count) }

    /// Requests waiting for a connection, first come first served.
    private var waiting = CircularBuffer<Waiter>()
    /// Dials under way for the line.
    private(set) var dialing = 0
    /// The last dial failed: no cap on dials until one succeeds.
    private var dialsFailing = false
    /// A turn's end will hand idle connections to the line.
    private var handOutScheduled = false
    /// A look at the line is due when its first request has waited ``patience``.
    private var patienceCheckScheduled = false
    static let maxDialsInFlight = 4
    /// How long the first request in line waits before the cap on dials is lifted.
    static let patience = TimeAmount.milliseconds(50)

    private struct Waiter {
        weak var handler: UpstreamWaiter?
        let attempt: UInt64
        let since: NIODeadline
        var isWaiting: Bool { handler?.isWaitingForUpstream(attempt: attempt) ?? false }
    }

    init(backend: ProxyBackend, eventLoop: EventLoop, maxIdle: Int, connector: UpstreamConnector) {
        self.backend = backend
        self.eventLoop = eventLoop
        self.maxIdle = maxIdle
        self.connector = connector
    }

    var idleCount: Int { idle.count }

    /// An open idle connection, or nil when a new one must be dialled.
    func takeIdle() -> UpstreamHandler? {
        while let connection = idle.popLast() {
            guard connection.isOpen else { continue }
            surplus.taken(busy: busyCount)
            return connection
        }
        return nil
    }

    /// `handler`'s attempt `attempt` found no idle connection: it gets the first one free
    /// (``UpstreamWaiter/takeUpstream(_:)``) or, when a dial fails, the failure
    /// (``UpstreamWaiter/upstreamDialFailed(_:)``) — unless it stops waiting first.
    func wait(_ handler: UpstreamWaiter, attempt: UInt64) {
        waiting.append(Waiter(handler: handler, attempt: attempt, since: eventLoop.now))
        dialForTheLine()
    }

    /// Requests in line that still wait (those that gave up are dropped from its front).
    private var waitingCount: Int {
        while let first = waiting.first, !first.isWaiting { waiting.removeFirst() }
        return waiting.count
    }

    /// The first request in line that still waits, taken out of it.
    private func nextWaiting() -> UpstreamWaiter? {
        while let waiter = waiting.popFirst() {
            if waiter.isWaiting, let handler = waiter.handler { return handler }
        }
        return nil
    }

    /// Dials wanted for the line: one per request waiting, at most ``maxDialsInFlight`` while
    /// dials succeed and the first in line has waited less than ``patience``.
    private var dialsWanted: Int {
        let count = waitingCount
        guard !dialsFailing, let first = waiting.first, eventLoop.now - first.since < Self.patience else { return count }
        return min(count, Self.maxDialsInFlight)
    }

    private func dialForTheLine() {
        defer { checkPatienceLater() }
        // Counted again after each dial: one may complete (and serve the line) at once.
        while dialing < dialsWanted {
            dialing += 1
            connector.connect(to: backend, on: eventLoop).assumeIsolated().whenComplete { result in
                self.dialing -= 1
                switch result {
                case .success(let connection):
                    self.dialsFailing = false
                    connection.pool = self
                    self.openCount += 1
                    self.surplus.taken(busy: self.busyCount)
                    self.handOut(connection)
                case .failure(let error):
                    self.dialsFailing = true
                    self.nextWaiting()?.upstreamDialFailed(error)
                }
                self.dialForTheLine()
            }
        }
    }

    /// More wait than the dials under way serve: look again when the first has waited ``patience``.
    private func checkPatienceLater() {
        guard !patienceCheckScheduled, let first = waiting.first, waiting.count > dialing else { return }
        patienceCheckScheduled = true
        eventLoop.assumeIsolated().scheduleTask(deadline: first.since + Self.patience) {
            self.patienceCheckScheduled = false
            self.dialForTheLine()
        }
    }

    /// A connection free for a request: the first one in line takes it, or it goes idle.
    private func handOut(_ connection: UpstreamHandler) {
        if let handler = nextWaiting() {
            handler.takeUpstream(connection)
        } else {
            release(connection)
        }
    }

    /// A connection dialled for this pool closed: if it was idle here, it is no longer.
    func forget(_ connection: UpstreamHandler) {
        openCount -= 1
        if let index = idle.lastIndex(where: { $0 === connection }) { idle.remove(at: index) }
    }

    /// Puts a finished, reusable connection back; closes it when the pool is full and no request
    /// waits for one.
    func release(_ connection: UpstreamHandler) {
        guard connection.isOpen else { return }
        connection.delegate = nil
        connection.resumeReads()
        if idle.count >= maxIdle && waiting.isEmpty {
            connection.close()
            return
        }
        connection.idleSince = eventLoop.now
        idle.append(connection)
        // Given to the line after the turn, not from inside the exchange that gave it back.
        if !waiting.isEmpty && !handOutScheduled {
            handOutScheduled = true
            eventLoop.assumeIsolated().execute {
                self.handOutScheduled = false
                while self.waitingCount > 0, let connection = self.takeIdle() { self.handOut(connection) }
            }
        }
    }

    /// Closes connections idle for longer than `timeout`, and every ``IdleSurplus/interval`` those
    /// ``IdleSurplus`` finds more than the load needs (the longest idle first).
    func sweep(olderThan timeout: TimeAmount, now: NIODeadline) {
        let limit = now - timeout
        for connection in idle where connection.idleSince < limit {
            connection.close()
        }
        idle.removeAll { !$0.isOpen || $0.idleSince < limit }
        guard now - lastPurge >= .nanoseconds(Int64(IdleSurplus.interval * 1e9)) else { return }
        lastPurge = now
        let unused = surplus.purge(idleCount: idle.count, busyCount: busyCount)
        guard unused > 0 else { return }
        let closing = idle.prefix(unused)
        idle.removeFirst(unused)
        for connection in closing { connection.close() }
    }

    /// Closes every idle connection (the backend left the pool).
    func closeAll() {
        let connections = idle
        idle.removeAll()
        for connection in connections { connection.close() }
    }
}

/// A request in an ``UpstreamPool``'s line (``ProxyHandler``; tests play their own).
protocol UpstreamWaiter: AnyObject {
    /// Still waiting, with the attempt it joined the line for?
    func isWaitingForUpstream(attempt: UInt64) -> Bool
    func takeUpstream(_ connection: UpstreamHandler)
    func upstreamDialFailed(_ error: Error)
}
