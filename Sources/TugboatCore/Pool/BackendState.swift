/// Where a backend stands, as `GET /api/pool` and the cluster registry in Redis report it.
package enum BackendState: String, WireVocabulary {
    /// Added, not yet proven by `rise` passing checks; gets no traffic.
    case starting
    /// Gets traffic.
    case healthy
    /// Failed `fall` checks or was ejected by passive detection; gets no traffic.
    case unhealthy
    /// Being removed: gets no new requests, finishes in-flight ones.
    case draining

    package static let vocabularyName = "backend state"

    package init(from decoder: any Decoder) throws { self = try Self.decode(from: decoder) }

    /// Whether the balancer may send new requests to a backend in this state.
    package var receivesTraffic: Bool { self == .healthy }
}

/// One member of the pool as the control plane sees it.
package struct BackendInfo: Sendable, Equatable {
    package var address: HostPort
    package var state: BackendState
    /// Why it is in that state (last check result, ejection, drain), for logs and the admin API.
    package var reason: String

    package init(address: HostPort, state: BackendState, reason: String = "") {
        self.address = address
        self.state = state
        self.reason = reason
    }
}

/// An immutable view of the pool, handed to the data plane whenever membership or states change.
package struct PoolSnapshot: Sendable, Equatable {
    package var version: UInt64
    package var backends: [BackendInfo]

    package init(version: UInt64, backends: [BackendInfo]) {
        self.version = version
        self.backends = backends
    }

    /// Every member has had a first verdict, or one is already healthy: a new process taking over
    /// the address from a running one (seamless upgrade) can serve from this pool.
    package var isSettled: Bool {
        backends.contains { $0.state == .healthy } || !backends.contains { $0.state == .starting }
    }
}
