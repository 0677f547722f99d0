/// What a `coordination.k8s.io/v1` Lease says, as far as the election reads it.
package struct LeaseRecord: Sendable, Equatable {
    package var holder: String?
    package var durationSeconds: Int
    package var renewTime: String?
    package var transitions: Int
    package var resourceVersion: String?

    package init(holder: String?, durationSeconds: Int, renewTime: String?, transitions: Int, resourceVersion: String?) {
        self.holder = holder
        self.durationSeconds = durationSeconds
        self.renewTime = renewTime
        self.transitions = transitions
        self.resourceVersion = resourceVersion
    }
}

/// When another holder's lease may be taken, by this node's own clock (as Kubernetes clients
/// decide it): the record must not have changed for its `leaseDurationSeconds` since this node
/// first saw it so. Clocks of different machines are never compared (`renewTime` is only used to
/// see a change). Pure: time comes with each call.
package struct LeaseObservation<Instant: InstantProtocol & Sendable>: Sendable where Instant.Duration == Duration {
    private(set) var last: LeaseRecord?
    private(set) var since: Instant?

    package init() {}

    package mutating func observe(_ record: LeaseRecord?, now: Instant) {
        if record != last || since == nil {
            last = record
            since = now
        }
    }

    /// Free for `me`: no lease, no holder, mine already, or unchanged for its whole duration.
    package func isFree(for me: String, now: Instant) -> Bool {
        guard let last, let holder = last.holder, !holder.isEmpty, holder != me else { return true }
        guard let since else { return false }
        return now >= since.advanced(by: .seconds(last.durationSeconds))
    }
}
