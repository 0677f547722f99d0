/// Timing of the leader lease (`tugboat:<pool>:leader`).
package struct LeaseTiming: Sendable, Hashable {
    /// The lease's TTL in Redis. Default 3 s: after a `kill -9` of the leader another node leads
    /// within `ttl + interval` (≈ 4 s).
    package var ttl: Duration
    /// A leader that has not renewed for `ttl - margin` (measured from when the last successful
    /// renewal was *sent*) steps down locally, before the key can expire in Redis.
    package var margin: Duration

    package init(ttl: Duration = .seconds(3), margin: Duration = .milliseconds(500)) {
        precondition(margin > .zero && margin < ttl, "the lease margin must be positive and below the TTL")
        self.ttl = ttl
        self.margin = margin
    }

    /// How often a follower tries to acquire and a leader renews: `ttl / 3`.
    package var interval: Duration { self.ttl / 3 }
    /// How long a leader may go without a successful renewal: `ttl - margin`.
    package var stepDownAfter: Duration { self.ttl - self.margin }
}

/// Why a node stopped leading.
package enum StepDownReason: Sendable, Hashable, CustomStringConvertible {
    /// No renewal succeeded for `ttl - margin` (Redis down, slow or unreachable); the last error.
    case renewalOverdue(lastError: String?)
    /// Redis says the lease is no longer ours (it expired and another node took it).
    case leaseLost
    /// Graceful shutdown; the lease was released.
    case shutdown

    package var description: String {
        switch self {
        case .renewalOverdue(let error?): return "lease not renewed in time (\(error))"
        case .renewalOverdue(nil): return "lease not renewed in time"
        case .leaseLost: return "lease taken by another node"
        case .shutdown: return "shutdown"
        }
    }
}

/// The leader lease's decisions, without I/O: the caller feeds it events with the current time
/// (`tick`s every few tens of milliseconds, and the results of the requests it asked for) and
/// performs the actions it returns. At most one acquire or renew is in flight at a time.
///
/// - A follower asks to acquire every `interval`.
/// - A leader asks to renew every `interval` (from when the last renewal was sent).
/// - A leader whose last successful acquire/renew was *sent* `ttl - margin` ago steps down
///   locally, whether or not a request is still in flight: Redis cannot have expired the key yet,
///   so no other node can have been elected while this one still acts as leader. Redis errors
///   count as failed renewals (they do not end leadership by themselves).
package struct LeaseStateMachine<Instant: InstantProtocol & Sendable>: Sendable where Instant.Duration == Duration {
    package enum Event: Sendable, Hashable {
        /// Time passed.
        case tick
        /// The acquire sent at `sentAt` won the lease for `epoch`.
        case acquired(epoch: UInt64, sentAt: Instant)
        /// Another node holds the lease.
        case acquireRefused
        /// The renewal sent at `sentAt` succeeded.
        case renewed(sentAt: Instant)
        /// The renewal found the lease gone or held by another node.
        case renewRefused
        /// An acquire or renewal failed with a Redis error.
        case requestFailed(String)
        /// Graceful shutdown: release the lease if held; no more requests.
        case shutdown
    }

    package enum Action: Sendable, Hashable {
        /// Run the acquire script (send time = now).
        case acquire
        /// Run the renewal script for this term (send time = now).
        case renew(epoch: UInt64)
        /// Run the compare-and-DEL release script (best effort).
        case release(epoch: UInt64)
        /// This node is leader from now on, in term `epoch`.
        case elected(epoch: UInt64)
        /// This node is no longer leader.
        case steppedDown(StepDownReason)
    }

    enum Role: Sendable, Hashable {
        case follower
        case leader(epoch: UInt64, renewedAt: Instant)
        case stopped
    }

    package let timing: LeaseTiming
    private(set) var role: Role = .follower
    private var requestInFlight = false
    private var nextRequest: Instant
    private var lastError: String?

    /// Starts as a follower that tries to acquire at the first tick.
    package init(timing: LeaseTiming = LeaseTiming(), now: Instant) {
        self.timing = timing
        self.nextRequest = now
    }

    /// The current term when leading.
    package var leaderEpoch: UInt64? {
        if case .leader(let epoch, _) = self.role { return epoch }
        return nil
    }

    /// True after `shutdown`.
    package var isStopped: Bool { self.role == .stopped }

    package mutating func event(_ event: Event, now: Instant) -> [Action] {
        switch event {
        case .tick:
            return self.tick(now: now)
        case .acquired(let epoch, let sentAt):
            self.requestInFlight = false
            guard self.role == .follower, now < sentAt.advanced(by: self.timing.stepDownAfter) else {
                // Stopped meanwhile, or the reply came too late to lead safely: give it back.
                return [.release(epoch: epoch)]
            }
            self.lastError = nil
            self.role = .leader(epoch: epoch, renewedAt: sentAt)
            self.nextRequest = sentAt.advanced(by: self.timing.interval)
            return [.elected(epoch: epoch)]
        case .acquireRefused:
            self.requestInFlight = false
            self.lastError = nil
            return []
        case .renewed(let sentAt):
            self.requestInFlight = false
            guard case .leader(let epoch, let renewedAt) = self.role else { return [] }
            self.lastError = nil
            self.role = .leader(epoch: epoch, renewedAt: max(renewedAt, sentAt))
            return self.tick(now: now)
        case .renewRefused:
            self.requestInFlight = false
            guard case .leader = self.role else { return [] }
            self.role = .follower
            self.nextRequest = now.advanced(by: self.timing.interval)
            return [.steppedDown(.leaseLost)]
        case .requestFailed(let error):
            self.requestInFlight = false
            self.lastError = error
            return self.tick(now: now)
        case .shutdown:
            defer { self.role = .stopped }
            if case .leader(let epoch, _) = self.role {
                return [.steppedDown(.shutdown), .release(epoch: epoch)]
            }
            return []
        }
    }

    private mutating func tick(now: Instant) -> [Action] {
        switch self.role {
        case .stopped:
            return []
        case .leader(let epoch, let renewedAt):
            if now >= renewedAt.advanced(by: self.timing.stepDownAfter) {
                self.role = .follower
                self.nextRequest = now.advanced(by: self.timing.interval)
                return [.steppedDown(.renewalOverdue(lastError: self.lastError)), .release(epoch: epoch)]
            }
            guard !self.requestInFlight, now >= self.nextRequest else { return [] }
            self.requestInFlight = true
            self.nextRequest = now.advanced(by: self.timing.interval)
            return [.renew(epoch: epoch)]
        case .follower:
            guard !self.requestInFlight, now >= self.nextRequest else { return [] }
            self.requestInFlight = true
            self.nextRequest = now.advanced(by: self.timing.interval)
            return [.acquire]
        }
    }
}
