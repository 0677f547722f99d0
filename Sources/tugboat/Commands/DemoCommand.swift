import ArgumentParser
import Foundation
import TugboatAlerts
import TugboatCapture
import TugboatCore
import TugboatRuntime

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Everything on embedded defaults: the proxy on :8080 in front of two demo-app children, admin on :8081."
    )

    @Option(help: "Public port.")
    var port: Int = 8080

    @Option(help: "Admin port.")
    var adminPort: Int = 8081

    @Option(help: "Ports of the demo-app children, comma-separated.")
    var backendPorts: String = "9001,9002"

    @OptionGroup var logOptions: LogOptions

    func run() async throws {
        let ports = backendPorts.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !ports.isEmpty else { throw ValidationError("--backend-ports needs at least one port") }
        var config = TugboatConfig()
        config.listen = HostPort(host: "127.0.0.1", port: port)
        config.admin.listen = HostPort(host: "127.0.0.1", port: adminPort)
        config.state = "sqlite:" + NSTemporaryDirectory() + "tugboat-demo-\(port).db"
        config.pool.backends = ports.map { HostPort(host: "127.0.0.1", port: $0) }
        config.pool.health.interval = .seconds(1)
        config.pool.drain = .seconds(5)
        config.pool.health.fall = 2
        Self.addDemoAlerts(&config)
        // Crash flame graphs with perf when it is installed (a warning says so when it is not).
        config.profiling = ProfilingSettings(source: .perf, window: .seconds(10))
        LogSetup.bootstrap(logOptions)

        let children = try ports.map { try Self.launchDemoApp(port: $0) }
        defer {
            for child in children { kill(child, SIGTERM) }
            for child in children { _ = ChildExit.reap(child) }
        }
        print("""
        Tugboat demo: proxy on http://127.0.0.1:\(port), admin on http://127.0.0.1:\(adminPort), \
        demo-app children on \(ports.map(String.init).joined(separator: ", ")).
        Open http://127.0.0.1:\(adminPort)/ in a browser: the dashboard. Or try:
          curl -i http://127.0.0.1:\(port)/echo                 # proxied, with X-Forwarded-*, Via, X-Request-Id
          curl http://127.0.0.1:\(port)/work?ms=50              # burns 50 ms of CPU on a backend
          curl http://127.0.0.1:\(adminPort)/api/pool            # backends, states, in-flight, requests, rps
          curl http://127.0.0.1:\(adminPort)/metrics             # Prometheus
          curl http://127.0.0.1:\(ports[0])/crash                # kill one backend: an incident pages the log, with its flame graph
          curl http://127.0.0.1:\(adminPort)/api/incidents       # incidents, and /api/notifications for the pages
        Ctrl-C stops everything.
        """)
        fflush(nil)
        try await TugboatRuntime(config: config).run()
    }

    /// The demo pages to the `log` channel: no account needed to see incidents open and resolve.
    static func addDemoAlerts(_ config: inout TugboatConfig) {
        var front = MonitorConfig(name: "front", target: .http(url: "http://\(config.listen)/health", expectStatus: nil, expectBody: nil))
        front.interval = .seconds(2)
        front.retries = 2  // the backends need a moment to pass their first checks
        config.monitors = [front]
        config.alerts.channels = ["log": .log]
        var frontDown = AlertRule(name: "front-down", condition: .down(monitor: "front"))
        frontDown.channels = ["log"]
        var backendDown = AlertRule(name: "backend-down", condition: .backendDown)
        backendDown.channels = ["log"]
        var noneHealthy = AlertRule(name: "no-healthy-backends", condition: .noHealthyBackends)
        noneHealthy.channels = ["log"]
        config.alerts.rules = [frontDown, backendDown, noneHealthy]
    }

    /// A demo-app child (its pid), started as every child of Tugboat's is (``ProcessSpawner``).
    static func launchDemoApp(port: Int) throws -> pid_t {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        return try ProcessSpawner.spawn([executable, "demo-app", "--port", String(port), "--exit-with-parent"], diesWithTugboat: true)
    }
}
