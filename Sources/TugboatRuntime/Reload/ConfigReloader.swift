import Logging
import TugboatAdmin
import TugboatAlerts
import TugboatCapture
import TugboatCore
import TugboatHealth
import TugboatNetwork
import TugboatProxy
import TugboatScaling
import TugboatStore

/// `SIGHUP` and `POST /api/reload`: re-reads the config file, checks it whole (as `tugboat check`
/// does), lets ``ConfigReconciler`` decide, and applies the plan to the running parts. A file that
/// does not load, or changes a setting that needs a restart, is refused and the running config
/// stays. Reloads run one at a time, in the order they were asked for.
actor ConfigReloader: ConfigReloading {
    /// The running parts a plan is applied to.
    struct Parts: Sendable {
        var dataPlane: ProxyDataPlane
        var membership: PoolMembership
        var health: HealthMonitor
        var monitors: MonitorSet
        var certificates: CertificateBook?
        /// `admin.tls`: the admin listener's certificates.
        var adminCertificates: CertificateBook?
        var store: Store
        var logControl: LogControl?
        /// `--log-level`/`--log-format` given on the command line win over `log:` in the file.
        var logOverrides = LogSetup.Overrides()
        /// What `max-connections` is derived from when the file does not set it.
        var descriptorLimit: Int
        var upstreamTLS: BackendTLS?
        /// `alerts`: the outbox, how the channels' settings become senders, the incident rules,
        /// and the Twilio accounts that sign callbacks to the admin API.
        var dispatcher: OutboxDispatcher?
        var makeSenders: (@Sendable (AlertsConfig) -> [String: NotificationSender])?
        var alerts: AlertManager?
        var twilioCallbacks: TwilioCallbacks?
        /// `scaling` and `profiling`, when they are on.
        var scaler: Scaler?
        var forensics: CrashForensics?
        /// The dashboard draws `scaling`'s thresholds and the `rps-above` rules.
        var dashboard: DashboardFeed?
    }

    private let path: String
    private let parts: Parts
    private let logger: Logger
    private var running: TugboatConfig
    /// The reload asked for last; the next one waits for it.
    private var last: Task<ReloadOutcome, Never>?

    init(path: String, running: TugboatConfig, parts: Parts, logger: Logger) {
        self.path = path
        self.running = running
        self.parts = parts
        self.logger = logger
    }

    func reload() async -> ReloadOutcome {
        let previous = last
        let next = Task { _ = await previous?.value; return await self.reloadNow() }
        last = next
        return await next.value
    }

    private func reloadNow() async -> ReloadOutcome {
        // SIGHUP always re-read the certificate files; it still does, whatever the config says.
        parts.certificates?.reloadChanged(force: true)
        parts.adminCertificates?.reloadChanged(force: true)
        let new: TugboatConfig
        do {
            new = try ConfigCheck.load(path: path)
        } catch {
            logger.error("config reload refused: the running config stays", metadata: ["error": "\(error)"])
            return .refused("\(error)")
        }
        switch ConfigReconciler.decide(from: running, to: new) {
        case .restartNeeded(let keys):
            let reason = "\(path): cannot change without a restart: \(keys.joined(separator: ", "))"
            logger.error("config reload refused: the running config stays", metadata: ["error": "\(reason)"])
            return .refused(reason)
        case .apply(let plan):
            if let problem = await apply(plan, new) {
                logger.error("config reload refused: the running config stays", metadata: ["error": "\(problem)"])
                return .refused(problem)
            }
            running = new
            for warning in new.warnings { logger.warning("config: \(warning)") }
            logger.info(plan.changed.isEmpty ? "config reloaded: nothing changed" : "config reloaded",
                        metadata: ["config.changed": "\(plan.changed.joined(separator: ","))",
                                   "backends.added": "\(plan.added.map(\.description).joined(separator: ","))",
                                   "backends.removed": "\(plan.removed.map(\.description).joined(separator: ","))"])
            return .applied(changed: plan.changed)
        }
    }

    /// Carries out a plan. The one step that can fail (certificate files changed again since they
    /// were checked) goes first, so a failure leaves everything as it was.
    private func apply(_ plan: ConfigReconciler.Plan, _ new: TugboatConfig) async -> String? {
        if plan.changes("tls.certificates"), let book = parts.certificates {
            do {
                try book.replaceFiles(new.tls?.certificates ?? [])
            } catch {
                return "\(error)"
            }
        }
        if plan.changes("admin.tls.certificates"), let book = parts.adminCertificates {
            do {
                try book.replaceFiles(new.admin.tls?.certificates ?? [])
            } catch {
                return "\(error)"
            }
        }
        let steps = plan.steps
        if steps.contains(.reconfigureDataPlane) {
            var configuration = ProxyConfiguration(new, descriptorLimit: parts.descriptorLimit)
            configuration.upstreamTLS = parts.upstreamTLS
            parts.dataPlane.reconfigure(configuration)
        }
        if steps.contains(.setDrain) { parts.membership.drain = new.pool.drain }
        if steps.contains(.updateHealth) { await parts.health.update(new.pool) }
        if steps.contains(.replaceMonitors) { await parts.monitors.replace(new.monitors) }
        if steps.contains(.replaceSenders), let dispatcher = parts.dispatcher, let makeSenders = parts.makeSenders {
            dispatcher.replaceSenders(makeSenders(new.alerts))
            parts.twilioCallbacks?.replace(TwilioCallbackSettings(alerts: new.alerts))
        }
        if steps.contains(.setRetryPolicy) { parts.dispatcher?.replacePolicy(OutboxDispatcher.RetryPolicy(new.alerts)) }
        if steps.contains(.replaceAlerts) { await parts.alerts?.replace(config: new.alerts) }
        if steps.contains(.updateScaling), let settings = new.scaling { await parts.scaler?.update(settings) }
        if steps.contains(.updateProfiling), let settings = new.profiling { await parts.forensics?.update(settings) }
        if steps.contains(.updateScaling) || steps.contains(.replaceAlerts) { parts.dashboard?.replaceChartLines(scaling: new.scaling, alerts: new.alerts) }
        if steps.contains(.setLogging), let control = parts.logControl {
            let settings = LogSetup.settings(parts.logOverrides, config: new.log)
            control.level = settings.level
            control.format = settings.format
        }
        for address in plan.added {
            _ = await parts.membership.add(address, reason: "added by a config reload", persist: false)
            await forgetRunTimeChange(address)
        }
        for address in plan.removed {
            _ = await parts.membership.drainAndRemove(address, reason: "removed by a config reload", persist: false)
            await forgetRunTimeChange(address)
        }
        return nil
    }

    /// The file now speaks for `address`: a change made to it through the API no longer applies
    /// at the next start.
    private func forgetRunTimeChange(_ address: HostPort) async {
        do {
            try await parts.store.forgetPoolChange(address.description)
        } catch {
            logger.error("pool change not saved", metadata: ["backend.address": "\(address)", "error": "\(error)"])
        }
    }
}
