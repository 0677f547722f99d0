import TugboatCore

/// One instance a provider runs: where it listens and how the provider knows it.
public struct ScalingInstance: Sendable, Hashable, CustomStringConvertible {
    /// The provider's own name for it: a process id, a container id, or the address for `exec`.
    public var providerID: String
    /// Where it serves, always reachable from this host (127.0.0.1 for process and docker).
    public var address: HostPort

    public init(providerID: String, address: HostPort) {
        self.providerID = providerID
        self.address = address
    }

    public var description: String { "\(address) (\(providerID))" }
}

/// One transition of the scaler: a row of `GET /api/scaling/events` without its time.
public struct ScalingTransition: Sendable, Equatable {
    /// Instance counts before and after the change this row belongs to.
    public var from: Int
    public var to: Int
    /// The state entered.
    public var state: ScalingState
    public var reason: String
    /// A failed launch, stop or health check (alert-worthy), or an instance that exited on its own.
    public var failed: Bool

    public init(from: Int, to: Int, state: ScalingState, reason: String, failed: Bool = false) {
        self.from = from
        self.to = to
        self.state = state
        self.reason = reason
        self.failed = failed
    }
}
