import NIOCore

/// The life of one client connection, as decisions only: which deadline applies, whose fault a
/// timeout is, whether a failed attempt may be retried, whether connections may be reused.
/// No I/O: ``ProxyHandler`` feeds it events and carries out what it returns. Every payload is plain
/// data, so a state change copies no references.
struct ProxyConnectionStateMachine {
    enum State: Equatable {
        /// Waiting for the next request; no byte of it yet.
        case idle(since: NIODeadline)
        /// Part of a request head has arrived.
        case readingHead(firstByteAt: NIODeadline)
        /// One request in flight (pipelined ones wait in the handler's buffer, unread).
        case exchange(Exchange)
        /// Bytes flow both ways after a protocol switch; the glue handlers own the connection.
        case tunnel
        case closed
    }

    struct Exchange: Equatable {
        var deadline: NIODeadline
        var idempotent: Bool
        var isUpgrade: Bool
        /// The whole request (head and body) has been read from the client.
        var requestComplete: Bool
        /// Some body bytes reached a backend: the request cannot be sent again.
        var bodyForwarded = false
        var upstream: Upstream = .none
        var responseStarted = false
        var attempts = 0
        /// The client wants the connection closed after this exchange (or we decided so).
        var closeClient: Bool
    }

    enum Upstream: Equatable {
        /// Choosing a backend, or held until one is ready (scale from zero).
        case none
        case connecting
        /// Connected; `writable` false means the backend is not taking the body fast enough.
        case attached(writable: Bool)
    }

    enum TimerAction: Equatable {
        case nothing
        case rearm(NIODeadline)
        /// Idle keep-alive connection: close without a word.
        case closeIdle
        /// Idle for ``parkAfter``: set the connection aside without its channel until the client
        /// speaks, or until `closeAt` (its idle deadline). Report ``closed()`` once it is parked; until
        /// then (and if it cannot be) the idle deadline stands.
        case park(closeAt: NIODeadline)
        /// The head did not arrive within `header`: 408 and close.
        case headTimedOut
        /// The client stopped sending its body: 408 and close; the backend is not to blame.
        case clientTooSlow
        /// The backend did not answer in time: 504 (and close when the request is unfinished).
        case backendTimedOut(closeClient: Bool)
        /// A response is partly out: only cutting the connection is left. `blameBackend` when the
        /// backend, not a slow-reading client, held it up.
        case cut(blameBackend: Bool)
    }

    enum FailureAction: Equatable {
        case retry
        case respond
    }

    private(set) var headerTimeout: TimeAmount
    private(set) var idleTimeout: TimeAmount
    private(set) var requestTimeout: TimeAmount
    private(set) var retries: Int
    private(set) var state: State
    private(set) var quiescing = false
    /// How long an idle connection keeps its channel before it is parked (nil: never parked).
    private(set) var parkAfter: TimeAmount?
    /// Parking was tried (or refused) in this idle spell: not again before the next request.
    private var parkingTried = false
    /// Graceful shutdown began while the connection was idle: it closes at this time unless a
    /// request comes first (answered, with `Connection: close`).
    private var quiesceDeadline: NIODeadline?

    /// How long an idle keep-alive connection stays open once graceful shutdown begins. Closing it
    /// at once would race with a request the client may be sending right then (reset, and lost if
    /// not idempotent); a busy client's next request comes within this time and gets a clean close.
    static let quiesceGrace: TimeAmount = .seconds(1)

    init(headerTimeout: TimeAmount, idleTimeout: TimeAmount, requestTimeout: TimeAmount, retries: Int, now: NIODeadline,
         parkAfter: TimeAmount? = nil) {
        self.parkAfter = parkAfter
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.retries = retries
        self.state = .idle(since: now)
    }

    /// New timeouts and retries (a reload changed them), for the requests that start from now on.
    /// Adopted between requests only: an exchange in progress keeps the deadline it started with.
    mutating func adopt(headerTimeout: TimeAmount, idleTimeout: TimeAmount, requestTimeout: TimeAmount, retries: Int) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.retries = retries
    }

    /// When the current phase's time runs out.
    var deadline: NIODeadline? {
        switch state {
        case .idle(let since):
            let idleEnd = since + idleTimeout
            if let quiesceDeadline { return min(quiesceDeadline, idleEnd) }
            if let parkAfter, !parkingTried, since + parkAfter < idleEnd { return since + parkAfter }
            return idleEnd
        case .readingHead(let first): return first + headerTimeout
        case .exchange(let exchange): return exchange.deadline
        case .tunnel, .closed: return nil
        }
    }

    var exchange: Exchange? {
        if case .exchange(let exchange) = state { exchange } else { nil }
    }

    private mutating func modifyExchange(_ body: (inout Exchange) -> Void) {
        guard case .exchange(var exchange) = state else { return }
        body(&exchange)
        state = .exchange(exchange)
    }

    // MARK: Events from the client

    mutating func headBytesArrived(now: NIODeadline) {
        if case .idle = state { state = .readingHead(firstByteAt: now) }
    }

    mutating func requestHeadParsed(now: NIODeadline, idempotent: Bool, isUpgrade: Bool, bodyless: Bool, closeClient: Bool) {
        parkingTried = false
        state = .exchange(Exchange(deadline: now + requestTimeout, idempotent: idempotent, isUpgrade: isUpgrade,
                                   requestComplete: bodyless, closeClient: closeClient || quiescing))
    }

    mutating func requestBodyForwarded() { modifyExchange { $0.bodyForwarded = true } }

    mutating func requestCompleted() { modifyExchange { $0.requestComplete = true } }

    /// Graceful shutdown: every request that has begun (or begins within ``quiesceGrace`` on an idle
    /// connection) is answered, with `Connection: close`, and then the connection closes. The
    /// deadline may have moved nearer: the caller re-arms its timer.
    mutating func quiesce(now: NIODeadline) {
        quiescing = true
        switch state {
        case .idle:
            quiesceDeadline = now + Self.quiesceGrace
        case .exchange:
            modifyExchange { $0.closeClient = true }
        case .readingHead, .tunnel, .closed:
            break  // a head being read becomes an exchange that closes after its response
        }
    }

    mutating func closeClientAfterResponse() { modifyExchange { $0.closeClient = true } }

    // MARK: Events from the upstream side

    mutating func attemptStarted() {
        modifyExchange {
            $0.attempts += 1
            $0.upstream = .connecting
        }
    }

    mutating func upstreamAttached(writable: Bool) { modifyExchange { $0.upstream = .attached(writable: writable) } }

    mutating func upstreamWritabilityChanged(_ writable: Bool) {
        modifyExchange { if case .attached = $0.upstream { $0.upstream = .attached(writable: writable) } }
    }

    /// An attempt failed before any response byte. Retry on another backend when nothing of the
    /// request body reached one, the method is idempotent, it is not an upgrade, and retries remain.
    mutating func attemptFailed() -> FailureAction {
        guard let exchange else { return .respond }
        modifyExchange { $0.upstream = .none }
        let retryable = exchange.idempotent && !exchange.bodyForwarded && !exchange.isUpgrade
            && exchange.attempts <= retries
        return retryable ? .retry : .respond
    }

    mutating func responseStarted() { modifyExchange { $0.responseStarted = true } }

    /// The response ended. Returns whether the upstream connection may go back to the pool and
    /// whether the client connection must close: both only when the request was read to its end.
    mutating func responseEnded(upstreamKeepAlive: Bool, now: NIODeadline) -> (reuseUpstream: Bool, closeClient: Bool) {
        guard let exchange else { return (false, true) }
        let closeClient = exchange.closeClient || !exchange.requestComplete || quiescing
        state = closeClient ? .closed : .idle(since: now)
        return (upstreamKeepAlive && exchange.requestComplete, closeClient)
    }

    /// Answered locally (no backend response). The same rule for the client connection.
    mutating func answeredLocally(now: NIODeadline) -> Bool {
        responseEnded(upstreamKeepAlive: false, now: now).closeClient
    }

    mutating func switchedToTunnel() { state = .tunnel }

    mutating func closed() { state = .closed }

    /// This connection is never parked (an HTTP/2 stream has no socket of its own).
    mutating func neverPark() { parkAfter = nil }

    // MARK: Time

    /// The connection's single timer fired: what it means depends on the phase, and on who is
    /// holding things up when a request is in flight.
    mutating func timerFired(now: NIODeadline, clientWritable: Bool) -> TimerAction {
        guard let deadline else { return .nothing }
        if deadline > now { return .rearm(deadline) }
        switch state {
        case .idle(let since):
            if quiesceDeadline == nil, let parkAfter, !parkingTried, since + parkAfter <= now, now < since + idleTimeout {
                // Once per idle spell: the deadline moves on to the idle end while the parking is under way.
                parkingTried = true
                return .park(closeAt: since + idleTimeout)
            }
            state = .closed
            return .closeIdle
        case .readingHead:
            state = .closed
            return .headTimedOut
        case .exchange(let exchange):
            // The handler answers (or cuts) and then reports `answeredLocally` or `closed`.
            if exchange.responseStarted {
                return .cut(blameBackend: clientWritable)
            }
            if !exchange.requestComplete, case .attached(writable: true) = exchange.upstream {
                // Everything the client sent is with the backend, which is waiting for the rest.
                return .clientTooSlow
            }
            return .backendTimedOut(closeClient: !exchange.requestComplete || exchange.closeClient)
        case .tunnel, .closed:
            return .nothing
        }
    }
}
