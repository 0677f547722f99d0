import Prometheus
import TugboatAlerts
import TugboatCore
import TugboatProxy
import TugboatScaling
import TugboatStore

/// What the admin API reads: the pool, the traffic collector and the metrics registry.
package struct AdminState: Sendable {
    /// With `tls:`, the public listener's certificates (`/api/certificates`, expiry in `/metrics`).
    package let certificates: CertificateBook?
    /// With `admin.tls`, the admin listener's own certificates (listed and measured beside the public ones).
    package var adminCertificates: CertificateBook?
    /// With `tls.acme`: `POST /api/certificates/renew`.
    package let certificateRenewer: (any CertificateRenewing)?
    package let pool: Pool
    package let traffic: TrafficCollector
    package let dataPlane: ProxyDataPlane
    package let registry: PrometheusCollectorRegistry
    package let token: Secret?
    /// `profiling.push-token`: also accepted on the push route (an instance's credential).
    package var pushToken: Secret?
    package let store: Store?
    package let alerts: AlertManager?
    package let membership: PoolMembership?
    package let scaler: Scaler?
    package let profiles: (any ProfileCapturing)?
    /// Set when several nodes share the pool (`state: redis://…`).
    package let cluster: (any ClusterAdministration)?
    /// Acknowledges outages by their code, for the Twilio callbacks (TwilioCallbackRoutes.swift).
    package let acknowledger: (any PageAcknowledging)?
    /// `alerts.public-url` and the Twilio accounts whose signatures the callbacks accept.
    package let twilioCallbacks: TwilioCallbacks
    /// `POST /api/reload` (nil: nothing to reload, e.g. `tugboat demo`).
    package let reloader: (any ConfigReloading)?
    /// The dashboard's live feed (traffic history, since-when per backend) and its logins.
    package let dashboard: DashboardFeed
    package let sessions = DashboardSessions()
    /// The `Host` names answered and the flame-graph links' lifetime.
    package var access = AdminAccess()
    /// `admin.tls`: the dashboard's session cookie is `Secure` (sent over HTTPS only).
    package var secureCookies = false

    package init(pool: Pool, traffic: TrafficCollector, dataPlane: ProxyDataPlane, registry: PrometheusCollectorRegistry,
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
