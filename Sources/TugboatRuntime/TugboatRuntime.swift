import AsyncHTTPClient
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import TugboatACME
import TugboatAdmin
import TugboatAlerts
import TugboatCapture
import TugboatCluster
import TugboatCore
import TugboatHealth
import TugboatNetwork
import TugboatProxy
import TugboatRedis
import TugboatScaling
import TugboatStore

/// Wires every part into one ServiceGroup: proxy, health checks, traffic collector, monitors,
/// alerts and their outbox, admin API.
/// SIGTERM and SIGINT shut it down gracefully (the proxy drains first).
package struct TugboatRuntime {
    let config: TugboatConfig
    /// `serve`: the file SIGHUP and `POST /api/reload` re-read; nil (`demo`): SIGHUP re-reads certificates only.
    var reload: Reload?

    package struct Reload {
        var path: String
        var logControl: LogControl
        var logOverrides: LogSetup.Overrides

        package init(path: String, logControl: LogControl, logOverrides: LogSetup.Overrides) {
            self.path = path
            self.logControl = logControl
            self.logOverrides = logOverrides
        }
    }

    package init(config: TugboatConfig, reload: Reload? = nil) {
        self.config = config
        self.reload = reload
    }

    package func run() async throws {
        HangupService.ignoreUntilHandled()
        AccessLogService.ignoreUntilHandled()
        let notifier = SystemdNotifier.fromEnvironment()
        let logger = Logger(label: "tugboat")
        for warning in config.warnings { logger.warning("config: \(warning)") }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let signals = SignalBus()
        let pool = Pool(signals: signals, logger: logger)
        let descriptors = DescriptorLimit.raiseToHard()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: ProxyDataPlane.threads(config.threads))
        // A request held at zero instances wakes the scaler (through this stream; see ScalingSetup).
        let (demand, demandContinuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        var proxyConfiguration = ProxyConfiguration(config, descriptorLimit: descriptors)
        let backendTLS = try config.pool.tls.map { try BackendTLS($0) }
        proxyConfiguration.upstreamTLS = backendTLS
        let accessLog = try config.accessLog.map { try AccessLog(settings: $0, logger: logger) }
        let dataPlane = ProxyDataPlane(
            group: group, configuration: proxyConfiguration,
            onPassiveFailure: { address, count in signals.publish(.passiveFailures(address: address, consecutive: count)) },
            onDemandWhileEmpty: { demandContinuation.yield() }, accessLog: accessLog
        )
        await pool.observe { snapshot in
            for address in dataPlane.apply(snapshot) {
                logger.error("backend address does not resolve", metadata: ["backend.address": "\(address)"])
            }
        }

        let store = try Self.openStore(config, logger: logger)
        // Webhooks, Slack, Twilio and monitors: a refused connection fails the attempt at once.
        // (By default the client retries connecting until the request's deadline, so a webhook to
        // a closed port took the whole `alerts.timeout` per attempt; the outbox and the monitors
        // have their own retries.)
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        let httpClient = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: clientConfiguration)
        let makeSenders: @Sendable (AlertsConfig) -> [String: NotificationSender] = { alerts in
            alerts.channels.mapValues {
                Senders.make($0, client: httpClient, timeout: alerts.timeout, logger: logger, publicURL: alerts.publicURL)
            }
        }
        let senders = makeSenders(config.alerts)
        let retry = OutboxDispatcher.RetryPolicy(config.alerts)
        // Several nodes: the registry, the leader lease and once-per-cluster pages in Redis.
        let cluster = try config.redisURL.map { url in
            ClusterNode(configuration: try RedisConfiguration(url: url, tls: config.stateTLS), pool: "default",
                        nodeID: config.node ?? ClusterNode.defaultNodeID, eventLoopGroup: group, logger: logger)
        }
        // state: kubernetes: the leader election on a Lease instead (only the leader scales and pages).
        let kubernetesLeader = try config.kubernetesLease.map {
            try KubernetesLeader(target: $0, identity: config.node ?? ClusterNode.defaultNodeID, logger: logger)
        }
        let gate: (any PageGate)? = cluster.map { ClusterPageGate(node: $0) } ?? kubernetesLeader.map { KubernetesLeaderPageGate(leader: $0) }
        let dispatcher = OutboxDispatcher(store: store, senders: senders, policy: retry, logger: logger, gate: gate)
        // The admin API's address for links in pages (known once it listens: the port may be 0).
        let adminBase = Mutex<String?>(config.admin.url)
        let forensics = config.profiling.map { CrashForensics(settings: $0, store: store, signals: signals, logger: logger) }
        if let profiling = config.profiling, let problem = CrashForensics.availabilityProblem(profiling) {
            logger.warning("\(problem)")
        }
        // Created before the pool is filled, so it sees every signal from the first one on.
        // With several nodes, silences are shared through Redis; otherwise they live in the store.
        let alerts = AlertManager(config: config.alerts, store: store, signals: signals, dispatcher: dispatcher, logger: logger,
                                  flameGraphBase: { forensics == nil ? nil : adminBase.withLock { $0 } },
                                  silenceBook: cluster.map { ClusterSilenceBook(node: $0) })
        let monitors = MonitorSet(config.monitors) {
            MonitorRunner(monitor: $0, client: httpClient, group: group, signals: signals, logger: logger)
        }
        for backend in try await Self.initialBackends(config, store: store) { await pool.add(backend) }
        let membership = PoolMembership(pool: pool, drain: config.pool.drain, logger: logger, inflight: { dataPlane.inflight() }) { address, added in
            do {
                try await store.recordPoolChange(address.description, added: added)
            } catch {
                logger.error("pool change not saved", metadata: ["backend.address": "\(address)", "error": "\(error)"])
            }
        }

        let scaling = ScalingSetup.makeScaler(config, pool: pool, signals: signals, dataPlane: dataPlane, logger: logger)
        let scaler = scaling?.scaler
        if let forensics, let provider = scaling?.provider {
            // A container's process comes from the Engine API, not from its published port.
            await forensics.locateProcesses { await provider.process(of: $0) }
        }
        let certificates = try config.tls.map { try CertificateBook($0, logger: logger) }
        // admin.tls: the admin listener's own book (its log lines say so), watched as the public one.
        let adminCertificates = try config.admin.tls.map { tls in
            var adminLogger = logger
            adminLogger[metadataKey: "listener"] = "admin"
            return try CertificateBook(files: tls.certificates, logger: adminLogger)
        }
        // tls.acme: the stored certificate (or a placeholder) is in the book before the listener
        // builds its TLS context; challenges are answered on the redirect listener.
        let challenges = ACMEChallenges()
        // Several nodes: the leader orders for all; certificate, account and answers in Redis.
        let acme: ACMECertificates? = if let settings = config.tls?.acme, let certificates {
            try await ACMECertificates(settings: settings, book: certificates, store: store, challenges: challenges, group: group,
                                       logger: logger, shared: cluster.map { ACMESharedState(node: $0) })
        } else {
            nil
        }
        let takeover = ProxyServer.Takeover(whenReady: { await Self.poolSettled(pool, within: .seconds(30)) },
                                            then: { notifier.ready(status: "serving (took over from the previous process)") })
        let proxy = try ProxyServer(dataPlane: dataPlane, logger: logger, certificates: certificates, takeover: takeover,
                                    tlsALPNChallenges: config.tls?.acme?.challenge == .tlsALPN01 ? challenges : nil)
        let health = HealthMonitor(pool: pool, signals: signals, config: config.pool, group: group, logger: logger, tls: backendTLS)
        let traffic = TrafficCollector(dataPlane: dataPlane, signals: signals)
        let twilioCallbacks = TwilioCallbacks(TwilioCallbackSettings(alerts: config.alerts))
        let dashboard = DashboardFeed(scaling: config.scaling, alerts: config.alerts)
        let reloader = reload.map { reload in
            ConfigReloader(path: reload.path, running: config, parts: .init(
                dataPlane: dataPlane, membership: membership, health: health, monitors: monitors, certificates: certificates,
                adminCertificates: adminCertificates, store: store,
                logControl: reload.logControl, logOverrides: reload.logOverrides, descriptorLimit: descriptors, upstreamTLS: backendTLS,
                dispatcher: dispatcher, makeSenders: makeSenders, alerts: alerts, twilioCallbacks: twilioCallbacks,
                scaler: scaler, forensics: forensics, dashboard: dashboard
            ), logger: logger)
        }
        var adminState = AdminState(pool: pool, traffic: traffic, dataPlane: dataPlane, registry: registry,
                                    token: config.admin.token, store: store, alerts: alerts, membership: membership,
                                    scaler: scaler, profiles: forensics,
                                    cluster: cluster.map { ClusterAdmin(node: $0, drain: config.pool.drain) },
                                    acknowledger: alerts, twilioCallbacks: twilioCallbacks,
                                    certificates: certificates, certificateRenewer: acme, reloader: reloader,
                                    dashboard: dashboard)
        adminState.access = AdminAccess(config)
        adminState.secureCookies = config.admin.tls != nil
        adminState.adminCertificates = adminCertificates
        adminState.pushToken = config.profiling?.pushToken
        // With a cluster the scaler waits for this node to win the lease.
        if cluster != nil { await scaler?.setLeading(false) }
        let bridge = cluster.map {
            ClusterBridge(node: $0, pool: pool, membership: membership, signals: signals,
                          staticBackends: Set(config.pool.backends), scaler: scaler,
                          adoptsRegistryInstances: config.scaling.map { if case .process = $0.provider { false } else { true } } ?? false,
                          logger: logger)
        }
        let takingOver: Bool
        do {
            takingOver = try await proxy.bindUnlessTakingOver()
        } catch {
            try? await httpClient.shutdown()
            throw ListenError(key: "listen", address: config.listen, underlying: error)
        }
        let adminConfig = config.admin
        let admin = AdminListener(state: adminState, listen: config.admin.listen, group: group, logger: logger,
                                  certificates: adminCertificates) { address in
            let text = address.flatMap { a in a.port.map { "\(a.ipAddress ?? "?"):\($0)" } } ?? "?"
            adminBase.withLock { $0 = adminConfig.baseURL(bound: text) }
            logger.info("admin listening", metadata: ["admin.address": "\(text)", "admin.url": "\(adminConfig.baseURL(bound: text))"])
            // The proxy listener is bound before the services start, unless it is taking over.
            if !takingOver { notifier.ready(status: "serving") }
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: admin), .init(service: dispatcher), .init(service: alerts), .init(service: traffic),
            .init(service: health), .init(service: PoolDrainService(membership: membership)),
            .init(service: HistoryPruner(store: store, retention: config.retention, logger: logger)),
        ]
        services.append(.init(service: monitors))
        if let discover = config.poolDiscover {
            services.append(.init(service: KubernetesDiscovery(target: discover, logger: logger,
                add: { _ = await membership.add($0, reason: "kubernetes endpoint ready", persist: false) },
                drainAndRemove: { _ = await membership.drainAndRemove($0, reason: "kubernetes endpoint terminating or gone", persist: false) })))
        }
        if let forensics { services.append(.init(service: forensics)) }
        if let cluster, let bridge { services += [.init(service: cluster), .init(service: bridge)] }
        if let kubernetesLeader {
            if let scaler { await kubernetesLeader.follow(scaler) }
            services.append(.init(service: kubernetesLeader))
        }
        if let scaler {
            services += [
                .init(service: ScalingSetup.NoticeForwarder(notices: scaler.notices(), signals: signals, store: store, logger: logger)),
                .init(service: scaler), .init(service: ScalingSetup.DemandForwarder(demand: demand, scaler: scaler)),
            ]
        }
        if let certificates { services.append(.init(service: CertificateWatcher(book: certificates, signals: signals))) }
        if let adminCertificates {
            services.append(.init(service: CertificateWatcher(book: adminCertificates, signals: signals, targetNote: "admin listener")))
        }
        if let redirect = config.tls?.redirect {
            services.append(.init(service: RedirectServer(listen: redirect, httpsPort: config.listen.port, group: group, logger: logger,
                                                          challenges: acme == nil ? nil : challenges)))
        }
        if let acme { services.append(.init(service: acme)) }
        if let certificates, config.tls?.ocspStapling == true {
            services.append(.init(service: OCSPStapler(book: certificates, group: group, logger: logger)))
        }
        services.append(.init(service: HangupService(notifier: notifier) {
            if let reloader {
                _ = await reloader.reload()
            } else {
                certificates?.reloadChanged(force: true)
                adminCertificates?.reloadChanged(force: true)
            }
        }))
        // Before the proxy: services stop in reverse order, so the last lines come after the drain.
        if let accessLog { services.append(.init(service: AccessLogService(accessLog: accessLog, dataPlane: dataPlane))) }
        services.append(.init(service: proxy))
        let serviceGroup = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await serviceGroup.run()
        try? await httpClient.shutdown()
        // The event loops are not shut down one by one: the process ends here, and closing the
        // idle upstream connections loop by loop made late callbacks reach loops already gone
        // (NIO's "Cannot schedule tasks on an EventLoop that has already shut down" at every stop).
    }
}

extension TugboatRuntime {
    /// Seamless upgrade: the new process takes connections once its own health checks have had
    /// their say — a backend healthy, or none still starting — and at most after `within`.
    static func poolSettled(_ pool: Pool, within limit: Duration) async {
        let (snapshots, continuation) = AsyncStream<PoolSnapshot>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await pool.observe { continuation.yield($0) }
        continuation.yield(await pool.snapshot)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await snapshot in snapshots where snapshot.isSettled { return }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
        continuation.finish()
    }

    /// The config's backends, then the changes made at run time through the admin API (persisted).
    static func initialBackends(_ config: TugboatConfig, store: Store) async throws -> [HostPort] {
        var backends = config.pool.backends
        for change in try await store.poolChanges() {
            guard let address = HostPort(parsing: change.address) else { continue }
            if change.added {
                if !backends.contains(address) { backends.append(address) }
            } else {
                backends.removeAll { $0 == address }
            }
        }
        return backends
    }

    /// The node's SQLite store: `state: sqlite:PATH`, or `local-state` beside a Redis `state`.
    static func openStore(_ config: TugboatConfig, logger: Logger) throws -> Store {
        try Store(path: config.sqlitePath)
    }
}

/// A listener that could not bind, named by its config key and address (`Address already in use`
/// alone does not say which of Tugboat's listeners it was).
package struct ListenError: Error, CustomStringConvertible {
    let key: String
    let address: HostPort
    let underlying: any Error

    package var description: String { "cannot listen on \(address) ('\(key)'): \(ErrorText.short(underlying))" }
}
