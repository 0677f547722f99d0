import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import TugboatAdmin
import TugboatCore
import TugboatHealth
import TugboatProxy

/// Wires every part into one ServiceGroup: proxy, health checks, traffic collector, admin API.
/// SIGTERM and SIGINT shut it down gracefully (the proxy drains first).
struct TugboatRuntime {
    let config: TugboatConfig

    func run() async throws {
        let logger = Logger(label: "tugboat")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let signals = SignalBus()
        let pool = Pool(signals: signals, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let dataPlane = ProxyDataPlane(group: group, configuration: ProxyConfiguration(config)) { address, count in
            signals.publish(.passiveFailures(address: address, consecutive: count))
        }
        await pool.observe { snapshot in
            for address in dataPlane.apply(snapshot) {
                logger.error("backend address does not resolve", metadata: ["backend.address": "\(address)"])
            }
        }
        for backend in config.pool.backends { await pool.add(backend) }

        let proxy = ProxyServer(dataPlane: dataPlane, logger: logger)
        let health = HealthMonitor(pool: pool, signals: signals, config: config.pool, group: group, logger: logger)
        let traffic = TrafficCollector(dataPlane: dataPlane, signals: signals)
        let adminState = AdminState(pool: pool, traffic: traffic, dataPlane: dataPlane, registry: registry, token: config.admin.token)
        let admin = AdminServer.makeApplication(state: adminState, listen: config.admin.listen, logger: logger) { address in
            let text = address.flatMap { a in a.port.map { "\(a.ipAddress ?? "?"):\($0)" } } ?? "?"
            logger.info("admin listening", metadata: ["admin.address": "\(text)"])
        }
        try await proxy.bind()
        let services = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: admin), .init(service: traffic), .init(service: health),
                    .init(service: proxy),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await services.run()
        try? await group.shutdownGracefully()
    }
}
