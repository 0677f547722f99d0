import Prometheus
import TugboatCore
import TugboatProxy

/// What the admin API reads: the pool, the traffic collector and the metrics registry.
public struct AdminState: Sendable {
    public let pool: Pool
    public let traffic: TrafficCollector
    public let dataPlane: ProxyDataPlane
    public let registry: PrometheusCollectorRegistry
    public let token: Secret?

    public init(pool: Pool, traffic: TrafficCollector, dataPlane: ProxyDataPlane, registry: PrometheusCollectorRegistry, token: Secret?) {
        self.pool = pool
        self.traffic = traffic
        self.dataPlane = dataPlane
        self.registry = registry
        self.token = token
    }
}
