import TugboatCore

/// One instance a provider runs: where it listens and how the provider knows it.
package struct ScalingInstance: Sendable, Hashable, CustomStringConvertible {
    /// The provider's own name for it: a process id, a container id, or the address for `exec`.
    package var providerID: String
    /// Where it serves, always reachable from this host (127.0.0.1 for process and docker).
    package var address: HostPort

    package init(providerID: String, address: HostPort) {
        self.providerID = providerID
        self.address = address
    }

    package var description: String { "\(address) (\(providerID))" }
}

/// One transition of the scaler: a row of `GET /api/scaling/events` without its time.
package struct ScalingTransition: Sendable, Equatable {
    /// Instance counts before and after the change this row belongs to.
    package var from: Int
    package var to: Int
    /// The state entered.
    package var state: ScalingState
    package var reason: String
    /// A failed launch, stop or health check (alert-worthy), or an instance that exited on its own.
    package var failed: Bool

    package init(from: Int, to: Int, state: ScalingState, reason: String, failed: Bool = false) {
        self.from = from
        self.to = to
        self.state = state
        self.reason = reason
        self.failed = failed
    }
}
