import TugboatAlerts
import TugboatCapture
import TugboatCore
import TugboatProxy
import TugboatRedis
import TugboatScaling

/// The whole configuration file, validated. Built by ``ConfigLoader``.
package struct TugboatConfig: Sendable, Equatable {
    package var listen: HostPort
    package var admin: AdminConfig
    package var state: String
    package var pool: PoolConfig
    package var monitors: [MonitorConfig]
    package var alerts: AlertsConfig
    /// `pool.discover.kubernetes`: the pool follows this Service's endpoints (no scaling).
    package var poolDiscover: KubernetesTarget?
    /// `scaling:`; nil keeps the pool to its static backends.
    package var scaling: ScalingSettings?
    /// `profiling:`; nil: no crash flame graphs.
    package var profiling: ProfilingSettings?
    /// `local-state: sqlite:PATH`: with `state: redis://…`, this node's own store (its outbox,
    /// incident history, captured flame graphs), which must not be lost with the node.
    package var localState = "sqlite:./tugboat.db"
    /// `state-tls: { ca, cert, key }`: with `state: rediss://…`, the roots its certificate is
    /// verified against (else the system's) and this node's client certificate.
    package var stateTLS: StateTLSSettings?
    /// `node:` this node's name in the cluster (default hostname-pid).
    package var node: String?
    /// `threads: auto | N`: the proxy's event loops; nil is `auto` (see ``ProxyThreads``).
    package var threads: Int?
    /// `max-connections: N`: open client connections at most; nil derives it from the descriptor limit.
    package var maxConnections: Int?
    /// `trusted-proxies: [CIDR, ...]`: clients whose forwarding headers (`X-Forwarded-*`,
    /// `Forwarded`, `X-Real-IP`) are kept; everyone else's are dropped.
    package var trustedProxies: [CIDR] = []
    /// `tls:`: the public listener speaks TLS (HTTP/1.1 over TLS 1.2 and 1.3).
    package var tls: TLSSettings?
    /// `log: { format: text | json, level: info }`; `--log-format`/`--log-level` win over it.
    package var log = LogSettings()
    /// `access-log: { path, format }`: one line per request; nil (the default) writes none.
    package var accessLog: AccessLogSettings?
    /// `retention: 90d`: resolved incidents and outages, their pages, flame graphs, scaling events
    /// and ended silences older than this are deleted from the store (checked hourly).
    package var retention: Duration = Self.defaultRetention
    package static let defaultRetention: Duration = .seconds(90 * 86_400)
    /// `FILE:LINE: message` for settings that are allowed but likely a mistake: `check` prints
    /// them, `serve` logs them at start.
    package var warnings: [String] = []

    package init(
        listen: HostPort = HostPort(host: "127.0.0.1", port: 8080),
        admin: AdminConfig = AdminConfig(),
        state: String = "sqlite:./tugboat.db",
        pool: PoolConfig = PoolConfig(),
        monitors: [MonitorConfig] = [],
        alerts: AlertsConfig = AlertsConfig()
    ) {
        self.listen = listen
        self.admin = admin
        self.state = state
        self.pool = pool
        self.monitors = monitors
        self.alerts = alerts
    }

    /// The SQLite file: `state: sqlite:PATH`, or `local-state` beside a Redis `state`.
    package var sqlitePath: String {
        let local = state.hasPrefix("sqlite:") ? state : localState
        return String(local.dropFirst("sqlite:".count))
    }

    /// `state: kubernetes`: the provider's target, whose namespace holds the leader Lease.
    package var kubernetesLease: KubernetesTarget? {
        guard state == "kubernetes", case .kubernetes(let target)? = scaling?.provider else { return nil }
        return target
    }

    /// The Redis URL of `state: redis://…` (or `rediss://…`, TLS), or nil for a single node.
    package var redisURL: String? { state.hasPrefix("redis://") || state.hasPrefix("rediss://") ? state : nil }

    /// `host:port` of the Redis in `state` (port 6379 when not given).
    package var redisAddress: HostPort? {
        guard let url = redisURL, let scheme = url.firstRange(of: "://") else { return nil }
        var rest = url[scheme.upperBound...]
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        let authority = String(rest.prefix { $0 != "/" })
        return HostPort(parsing: authority) ?? HostPort(parsing: authority + ":6379")
    }
}
