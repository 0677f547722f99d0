import TugboatAlerts
import TugboatCapture
import TugboatCore
import TugboatProxy
import TugboatRedis
import TugboatScaling

/// What a reload does: the running config against the file just loaded, decided without I/O.
/// Either a plan (the sections that changed, the static backends to add and drain, and the
/// ``Step``s that carry it out) or a refusal naming the settings that only a restart can change.
package enum ConfigReconciler {
    /// What the reloader does to the running parts; one step may serve several changed keys.
    package enum Step: String, Sendable, Hashable, CaseIterable {
        /// The proxy's event loops get a new copy of their settings.
        case reconfigureDataPlane
        /// Backends removed from now on drain this long.
        case setDrain
        /// The health checks use the new settings from their next round.
        case updateHealth
        /// The monitors are replaced as a set.
        case replaceMonitors
        /// The certificate files are read again.
        case replaceCertificates
        /// The log level and format follow the file.
        case setLogging
        /// The incident rules, grouping, inhibition, maintenance, flapping and paging settings are
        /// replaced in the alert manager; open incidents of rules that remain keep their state.
        case replaceAlerts
        /// The outbox's senders are made anew (and the Twilio callbacks' accounts follow).
        case replaceSenders
        /// The outbox's retry policy.
        case setRetryPolicy
        /// The scaler's policy, state machine and provider take the new `scaling` settings.
        case updateScaling
        /// Crash forensics take the new `profiling` settings.
        case updateProfiling
    }

    /// A reload that can be applied live.
    package struct Plan: Sendable, Equatable {
        /// Changed sections, by their config keys (`pool.backends`, `pool.timeouts`, `log.level`, …).
        package var changed: [String] = []
        /// Static backends new in `pool.backends` (in the new file's order).
        package var added: [HostPort] = []
        /// Static backends gone from `pool.backends`: drained, then removed.
        package var removed: [HostPort] = []

        package init(changed: [String] = [], added: [HostPort] = [], removed: [HostPort] = []) {
            self.changed = changed
            self.added = added
            self.removed = removed
        }

        package func changes(_ key: String) -> Bool { changed.contains(key) }

        /// What to do to the running parts for these changes.
        package var steps: Set<Step> { Set(changed.flatMap { ConfigReconciler.steps(for: $0) }) }
    }

    package enum Decision: Sendable, Equatable {
        case apply(Plan)
        /// These settings changed and cannot change while Tugboat runs.
        case restartNeeded([String])
    }

    /// Compares two whole, validated configs.
    package static func decide(from old: TugboatConfig, to new: TugboatConfig) -> Decision {
        let restart = restartOnlyChanges(from: old, to: new)
        guard restart.isEmpty else { return .restartNeeded(restart) }
        return .apply(plan(from: old, to: new))
    }

    /// Settings fixed for the life of the process: listeners and their TLS set-up, the store and
    /// cluster identity, the event loops, and the parts set up at start: scaling and profiling
    /// switched on or off, the scaling provider's kind (running instances belong to it) and the
    /// docker daemon it talks to.
    static func restartOnlyChanges(from old: TugboatConfig, to new: TugboatConfig) -> [String] {
        let old = comparable(old), new = comparable(new)
        var keys: [String] = []
        func check(_ key: String, _ differs: Bool) { if differs { keys.append(key) } }
        check("listen", old.listen != new.listen)
        check("admin.listen", old.admin.listen != new.admin.listen)
        check("admin.token", old.admin.token != new.admin.token)
        check("admin.url", old.admin.url != new.admin.url)
        // On or off changes what the listener speaks; other certificate files are read live.
        check("admin.tls", (old.admin.tls == nil) != (new.admin.tls == nil))
        check("state", old.state != new.state)
        check("state-tls", old.stateTLS != new.stateTLS)
        check("local-state", old.localState != new.localState)
        check("node", old.node != new.node)
        check("threads", old.threads != new.threads)
        // The writer thread and its descriptor are set up at start (SIGUSR1 reopens the same path).
        check("access-log", old.accessLog?.path != new.accessLog?.path || old.accessLog?.format != new.accessLog?.format)
        check("tls", (old.tls == nil) != (new.tls == nil))
        if let oldTLS = old.tls, let newTLS = new.tls {
            check("tls.acme", oldTLS.acme != newTLS.acme)
            check("tls.redirect", oldTLS.redirect != newTLS.redirect)
            check("tls.http2", oldTLS.http2 != newTLS.http2)
            check("tls.http2-max-streams", oldTLS.http2MaxStreams != newTLS.http2MaxStreams)
            // The stapler is a service set up at start.
            check("tls.ocsp-stapling", oldTLS.ocspStapling != newTLS.ocspStapling)
        }
        check("pool.tls", old.pool.tls != new.pool.tls)
        check("pool.discover", old.poolDiscover != new.poolDiscover)
        // With several nodes the static list is part of the shared registry's reconciliation.
        check("pool.backends", new.redisURL != nil && old.pool.backends != new.pool.backends)
        check("scaling", (old.scaling == nil) != (new.scaling == nil))
        if let oldScaling = old.scaling, let newScaling = new.scaling {
            check("scaling.provider", oldScaling.provider.kind != newScaling.provider.kind)
            if case .docker(_, _, let oldSocket) = oldScaling.provider, case .docker(_, _, let newSocket) = newScaling.provider {
                check("scaling.provider.docker.socket", oldSocket != newSocket)
            }
            if case .kubernetes(let oldTarget) = oldScaling.provider, case .kubernetes(let newTarget) = newScaling.provider {
                check("scaling.provider.kubernetes", oldTarget != newTarget)
            }
        }
        check("profiling", (old.profiling == nil) != (new.profiling == nil))
        check("retention", old.retention != new.retention)
        // The admin listener's Host check (alerts.public-url's host) and the flame-graph links'
        // lifetime are set when its routes are built.
        check("alerts.public-url", old.alerts.publicURL != new.alerts.publicURL)
        check("profiling.link-expiry", old.profiling?.linkExpiry != new.profiling?.linkExpiry && old.profiling != nil && new.profiling != nil)
        check("profiling.push-token", old.profiling?.pushToken != new.profiling?.pushToken && old.profiling != nil && new.profiling != nil)
        return keys
    }

    static func plan(from old: TugboatConfig, to new: TugboatConfig) -> Plan {
        var plan = Plan()
        func check(_ key: String, _ differs: Bool) { if differs { plan.changed.append(key) } }
        check("max-connections", old.maxConnections != new.maxConnections)
        check("trusted-proxies", old.trustedProxies != new.trustedProxies)
        check("tls.certificates", old.tls.map(certificateFiles) != new.tls.map(certificateFiles))
        check("admin.tls.certificates", old.admin.tls.map { $0.certificates.map(\.withoutLocation) } != new.admin.tls.map { $0.certificates.map(\.withoutLocation) })
        check("log.level", old.log.level != new.log.level)
        check("log.format", old.log.format != new.log.format)
        check("monitors", old.monitors != new.monitors)
        check("pool.balance", old.pool.balance != new.pool.balance)
        let oldBackends = Set(old.pool.backends), newBackends = Set(new.pool.backends)
        plan.added = new.pool.backends.filter { !oldBackends.contains($0) }
        plan.removed = old.pool.backends.filter { !newBackends.contains($0) }
        check("pool.backends", !plan.added.isEmpty || !plan.removed.isEmpty)
        check("pool.health", old.pool.health != new.pool.health)
        check("pool.passive", old.pool.passive != new.pool.passive)
        check("pool.retries", old.pool.retries != new.pool.retries)
        check("pool.timeouts", old.pool.timeouts != new.pool.timeouts)
        check("pool.drain", old.pool.drain != new.pool.drain)
        plan.changed += alertsChanges(old.alerts, new.alerts)
        if let oldScaling = old.scaling, let newScaling = new.scaling { plan.changed += scalingChanges(oldScaling, newScaling) }
        if let oldProfiling = old.profiling, let newProfiling = new.profiling { plan.changed += profilingChanges(oldProfiling, newProfiling) }
        return plan
    }

    /// The keys of `alerts` that differ, in the file's order of sections.
    static func alertsChanges(_ old: AlertsConfig, _ new: AlertsConfig) -> [String] {
        let pairs: [(String, Bool)] = [
            ("alerts.rules", old.rules != new.rules),
            ("alerts.repeat", old.repeatInterval != new.repeatInterval),
            ("alerts.channels", old.channels != new.channels),
            ("alerts.timeout", old.timeout != new.timeout),
            ("alerts.retry", old.retryFirst != new.retryFirst || old.retryMax != new.retryMax || old.retryAttempts != new.retryAttempts),
            ("alerts.public-url", old.publicURL != new.publicURL),
            ("alerts.group", old.group != new.group),
            ("alerts.inhibit", old.inhibit != new.inhibit),
            ("alerts.maintenance", old.maintenance != new.maintenance),
            ("alerts.flapping", old.flapping != new.flapping),
            ("alerts.startup-grace", old.startupGrace != new.startupGrace),
        ]
        return pairs.filter(\.1).map(\.0)
    }

    /// The keys of `scaling` that differ (same provider kind: a different kind needs a restart).
    static func scalingChanges(_ old: ScalingSettings, _ new: ScalingSettings) -> [String] {
        let pairs: [(String, Bool)] = [
            ("scaling.provider", old.provider != new.provider),
            ("scaling.min", old.min != new.min),
            ("scaling.max", old.max != new.max),
        ]
        let rest: [(String, Bool)] = [
            ("scaling.target-inflight", old.targetInflight != new.targetInflight),
            ("scaling.window", old.window != new.window),
            ("scaling.cooldown-up", old.cooldownUp != new.cooldownUp),
            ("scaling.stabilize-down", old.stabilizeDown != new.stabilizeDown),
            ("scaling.panic-window", old.panicWindow != new.panicWindow),
            ("scaling.idle-to-zero", old.idleToZero != new.idleToZero),
            ("scaling.start-timeout", old.startTimeout != new.startTimeout),
        ]
        return pairs.filter(\.1).map(\.0) + modeChanges(old.mode, new.mode) + rest.filter(\.1).map(\.0)
    }

    /// `target-rps`, or `up-rps` and `down-rps`; a switch between the two names all three.
    static func modeChanges(_ old: ScalingSettings.Mode, _ new: ScalingSettings.Mode) -> [String] {
        switch (old, new) {
        case (.targetTracking(let before), .targetTracking(let after)):
            before != after ? ["scaling.target-rps"] : []
        case (.thresholds(let upBefore, let downBefore), .thresholds(let upAfter, let downAfter)):
            (upBefore != upAfter ? ["scaling.up-rps"] : []) + (downBefore != downAfter ? ["scaling.down-rps"] : [])
        default:
            ["scaling.target-rps", "scaling.up-rps", "scaling.down-rps"]
        }
    }

    /// The keys of `profiling` that differ.
    static func profilingChanges(_ old: ProfilingSettings, _ new: ProfilingSettings) -> [String] {
        let pairs: [(String, Bool)] = [
            ("profiling.source", old.source != new.source),
            ("profiling.rate", old.rate != new.rate),
            ("profiling.window", old.window != new.window),
            ("profiling.error-burst", old.errorBurst != new.errorBurst),
        ]
        return pairs.filter(\.1).map(\.0)
    }

    /// What the reloader does when `key` changed.
    static func steps(for key: String) -> [Step] {
        switch key {
        case "pool.balance", "pool.retries", "pool.timeouts", "max-connections", "trusted-proxies": [.reconfigureDataPlane]
        case "pool.passive": [.reconfigureDataPlane, .updateHealth]
        // The scaler's own instances drain as long as the other backends.
        case "pool.drain": [.reconfigureDataPlane, .setDrain, .updateScaling]
        case "pool.health": [.updateHealth]
        case "monitors": [.replaceMonitors]
        case "tls.certificates", "admin.tls.certificates": [.replaceCertificates]
        case "log.level", "log.format": [.setLogging]
        // The alert manager knows each channel's kind (who hears the resolved notice) and its
        // Twilio numbers (recipients); the senders hold the settings.
        case "alerts.channels": [.replaceSenders, .replaceAlerts]
        case "alerts.timeout", "alerts.public-url": [.replaceSenders]
        case "alerts.retry": [.setRetryPolicy]
        case _ where key.hasPrefix("alerts."): [.replaceAlerts]
        case _ where key.hasPrefix("scaling."): [.updateScaling]
        case _ where key.hasPrefix("profiling."): [.updateProfiling]
        default: []
        }
    }

    /// The certificate files named, without where in the file they were named.
    static func certificateFiles(_ tls: TLSSettings) -> [[String]] { tls.certificates.map { [$0.cert, $0.key] } }

    /// A config without what does not matter to a comparison: line numbers (an edit above moves
    /// them), warnings, and `pool.drain` copied into `scaling` (compared as `pool.drain`).
    static func comparable(_ config: TugboatConfig) -> TugboatConfig {
        var config = config
        config.warnings = []
        config.pool.tls?.caLine = 0
        config.stateTLS?.line = 0
        if let certificates = config.tls?.certificates {
            config.tls?.certificates = certificates.map { TLSSettings.CertificateFiles(cert: $0.cert, key: $0.key) }
        }
        if let adminCertificates = config.admin.tls?.certificates {
            config.admin.tls?.certificates = adminCertificates.map(\.withoutLocation)
        }
        config.scaling?.drain = .zero
        return config
    }
}
