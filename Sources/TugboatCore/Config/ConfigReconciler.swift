/// What a reload does: the running config against the file just loaded, decided without I/O.
/// Either a plan (the sections that changed and the static backends to add and drain) or a refusal
/// naming the settings that only a restart can change.
public enum ConfigReconciler {
    /// A reload that can be applied live.
    public struct Plan: Sendable, Equatable {
        /// Changed sections, by their config keys (`pool.backends`, `pool.timeouts`, `log.level`, …).
        public var changed: [String] = []
        /// Static backends new in `pool.backends` (in the new file's order).
        public var added: [HostPort] = []
        /// Static backends gone from `pool.backends`: drained, then removed.
        public var removed: [HostPort] = []

        public init(changed: [String] = [], added: [HostPort] = [], removed: [HostPort] = []) {
            self.changed = changed
            self.added = added
            self.removed = removed
        }

        public func changes(_ key: String) -> Bool { changed.contains(key) }
    }

    public enum Decision: Sendable, Equatable {
        case apply(Plan)
        /// These settings changed and cannot change while Tugboat runs.
        case restartNeeded([String])
    }

    /// Compares two whole, validated configs.
    public static func decide(from old: TugboatConfig, to new: TugboatConfig) -> Decision {
        let restart = restartOnlyChanges(from: old, to: new)
        guard restart.isEmpty else { return .restartNeeded(restart) }
        return .apply(plan(from: old, to: new))
    }

    /// Settings fixed for the life of the process: listeners and their TLS set-up, the store and
    /// cluster identity, the event loops, and the parts whose services hold state built from them
    /// (alerts: open incidents and outages; scaling: running instances; profiling: capture sources).
    static func restartOnlyChanges(from old: TugboatConfig, to new: TugboatConfig) -> [String] {
        let old = comparable(old), new = comparable(new)
        var keys: [String] = []
        func check(_ key: String, _ differs: Bool) { if differs { keys.append(key) } }
        check("listen", old.listen != new.listen)
        check("admin.listen", old.admin.listen != new.admin.listen)
        check("admin.token", old.admin.token != new.admin.token)
        check("admin.url", old.admin.url != new.admin.url)
        check("state", old.state != new.state)
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
        }
        check("pool.tls", old.pool.tls != new.pool.tls)
        // With several nodes the static list is part of the shared registry's reconciliation.
        check("pool.backends", new.redisURL != nil && old.pool.backends != new.pool.backends)
        check("alerts.rules", old.alerts.rules != new.alerts.rules)
        check("alerts.channels", !channelsChangeLive(old.alerts.channels, new.alerts.channels))
        var oldAlerts = old.alerts, newAlerts = new.alerts
        (oldAlerts.rules, oldAlerts.channels, newAlerts.rules, newAlerts.channels) = ([], [:], [], [:])
        check("alerts", oldAlerts != newAlerts)
        check("scaling", old.scaling != new.scaling)
        check("profiling", old.profiling != new.profiling)
        check("retention", old.retention != new.retention)
        return keys
    }

    static func plan(from old: TugboatConfig, to new: TugboatConfig) -> Plan {
        var plan = Plan()
        func check(_ key: String, _ differs: Bool) { if differs { plan.changed.append(key) } }
        check("max-connections", old.maxConnections != new.maxConnections)
        check("trusted-proxies", old.trustedProxies != new.trustedProxies)
        check("tls.certificates", old.tls.map(certificateFiles) != new.tls.map(certificateFiles))
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
        check("alerts.channels", old.alerts.channels != new.alerts.channels)
        return plan
    }

    /// A channel's settings (a webhook or Slack URL, an email server, a PagerDuty key…) change live
    /// when every rule still finds the channels it names, of the same kinds. Twilio channels are
    /// the exception: the admin API checks Twilio's callback signatures with their auth token.
    static func channelsChangeLive(_ old: [String: ChannelConfig], _ new: [String: ChannelConfig]) -> Bool {
        guard old.mapValues(\.kind) == new.mapValues(\.kind) else { return false }
        return old.allSatisfy { name, channel in
            switch channel {
            case .twilioCall, .twilioSMS: channel == new[name]
            default: true
            }
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
        if let certificates = config.tls?.certificates {
            config.tls?.certificates = certificates.map { TLSSettings.CertificateFiles(cert: $0.cert, key: $0.key) }
        }
        config.scaling?.drain = .zero
        return config
    }
}
