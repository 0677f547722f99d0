import Prometheus
import TugboatAlerts
import TugboatCore
import TugboatProxy
import TugboatScaling
import TugboatStore

/// What the admin API reads: the pool, the traffic collector and the metrics registry.
public struct AdminState: Sendable {
    /// With `tls:`, the public listener's certificates (`/api/certificates`, expiry in `/metrics`).
    public let certificates: CertificateBook?
    /// With `tls.acme`: `POST /api/certificates/renew`.
    public let certificateRenewer: (any CertificateRenewing)?
    public let pool: Pool
    public let traffic: TrafficCollector
    public let dataPlane: ProxyDataPlane
    public let registry: PrometheusCollectorRegistry
    public let token: Secret?
    /// `profiling.push-token`: also accepted on the push route (an instance's credential).
    public var pushToken: Secret?
    public let store: Store?
    public let alerts: AlertManager?
    public let membership: PoolMembership?
    public let scaler: Scaler?
    public let profiles: (any ProfileCapturing)?
    /// Set when several nodes share the pool (`state: redis://…`).
    public let cluster: (any ClusterAdministration)?
    /// Acknowledges outages by their code, for the Twilio callbacks (TwilioCallbackRoutes.swift).
    public let acknowledger: (any PageAcknowledging)?
    /// `alerts.public-url` and the Twilio accounts whose signatures the callbacks accept.
    public let twilioCallbacks: TwilioCallbacks
    /// `POST /api/reload` (nil: nothing to reload, e.g. `tugboat demo`).
    public let reloader: (any ConfigReloading)?
    /// The dashboard's live feed (traffic history, since-when per backend) and its logins.
    public let dashboard: DashboardFeed
    public let sessions = DashboardSessions()
    /// The `Host` names answered and the flame-graph links' lifetime.
    public var access = AdminAccess()

    public init(pool: Pool, traffic: TrafficCollector, dataPlane: ProxyDataPlane, registry: PrometheusCollectorRegistry,
                token: Secret?, store: Store? = nil, alerts: AlertManager? = nil, membership: PoolMembership? = nil,
                scaler: Scaler? = nil, profiles: (any ProfileCapturing)? = nil,
                cluster: (any ClusterAdministration)? = nil, acknowledger: (any PageAcknowledging)? = nil,
                twilioCallbacks: TwilioCallbacks = TwilioCallbacks(), certificates: CertificateBook? = nil,
                certificateRenewer: (any CertificateRenewing)? = nil, reloader: (any ConfigReloading)? = nil,
                dashboard: DashboardFeed = DashboardFeed()) {
        self.reloader = reloader
        self.dashboard = dashboard
        self.certificates = certificates
        self.certificateRenewer = certificateRenewer
        self.cluster = cluster
        self.acknowledger = acknowledger
        self.twilioCallbacks = twilioCallbacks
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
