import TugboatAdmin
import TugboatAlerts
import TugboatCapture
import TugboatCore
import TugboatProxy
import TugboatScaling

// Each part's settings, taken from the whole file: the parts read their sections, not the config.
extension ProxyConfiguration {
    init(_ config: TugboatConfig, descriptorLimit: Int) {
        self.init(listen: config.listen, pool: config.pool, holdWhenEmpty: config.scaling?.min == 0, maxConnections: config.maxConnections,
                  trustedProxies: config.trustedProxies, tls: config.tls, descriptorLimit: descriptorLimit)
        spreadLoops = config.threads == nil
    }
}

extension AdminAccess {
    init(_ config: TugboatConfig) {
        self.init(admin: config.admin, publicURL: config.alerts.publicURL,
                  linkExpiry: config.profiling?.linkExpiry ?? ProfilingSettings.defaultLinkExpiry)
    }
}
