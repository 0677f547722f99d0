import Prometheus
import TugboatAlerts
import TugboatCore
import TugboatProxy
import TugboatScaling
import TugboatStore

/// What the admin API reads: the pool, the traffic collector and the metrics registry.
public struct AdminState: Sendable {
    public let pool: Pool
    public let traffic: TrafficCollector
    public let dataPlane: ProxyDataPlane
    public let registry: PrometheusCollectorRegistry
    public let token: Secret?
    public let store: Store?
    public let alerts: AlertManager?
    public let membership: PoolMembership?
    public let scaler: Scaler?
    public let profiles: (any ProfileCapturing)?
    /// Set when several nodes share the pool (`state: redis://…`).
    public let cluster: (any ClusterAdministration)?

    public init(pool: Pool, traffic: TrafficCollector, dataPlane: ProxyDataPlane, registry: PrometheusCollectorRegistry,
                token: Secret?, store: Store? = nil, alerts: AlertManager? = nil, membership: PoolMembership? = nil,
                scaler: Scaler? = nil, profiles: (any ProfileCapturing)? = nil,
                cluster: (any ClusterAdministration)? = nil) {
        self.cluster = cluster
        self.scaler = scaler
        self.profiles = profiles
        self.membership = membership
        self.store = store
        self.alerts = alerts
        self.pool = pool
        self.traffic = traffic
        self.dataPlane = dataPlane
        self.registry = registry
        self.token = token
    }
}
