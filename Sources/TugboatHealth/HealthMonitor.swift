import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import TugboatCore
import TugboatNetwork

/// Runs active checks on every pool member, listens for passive-failure signals, and moves
/// backends between states in the ``Pool`` through one ``HealthStateMachine`` each.
package actor HealthMonitor: Service {
    private let pool: Pool
    private let signals: SignalBus
    private var probe: HealthProbe
    private var interval: Duration
    private var settings: HealthStateMachine.Settings
    private let group: EventLoopGroup
    private let tls: BackendTLS?
    private let logger: Logger
    private var machines: [HostPort: HealthStateMachine] = [:]
    private let clock = ContinuousClock()

    package init(pool: Pool, signals: SignalBus, config: PoolConfig, group: EventLoopGroup, logger: Logger, tls: BackendTLS? = nil) {
        self.pool = pool
        self.signals = signals
        self.probe = HealthProbe(path: config.health.path, timeout: config.health.timeout, group: group, tls: tls)
        self.interval = config.health.interval
        self.settings = HealthStateMachine.Settings(config)
        self.group = group
        self.tls = tls
        self.logger = logger
    }

    /// Reloaded `pool.health` and `pool.passive`: the next round of checks uses the new path,
    /// timeout and interval; each backend's state machine keeps its counts under the new rise/fall.
    package func update(_ config: PoolConfig) {
        probe = HealthProbe(path: config.health.path, timeout: config.health.timeout, group: group, tls: tls)
        interval = config.health.interval
        settings = HealthStateMachine.Settings(config)
        for address in machines.keys { machines[address]?.settings = settings }
    }

    package func run() async throws {
        let passive = signals.subscribe()
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await signal in passive.cancelOnGracefulShutdown() {
                    if case .passiveFailures(let address, let count) = signal {
                        await self.passiveFailures(address, count)
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    await self.checkAll()
                    let interval = await self.interval
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
                }
            }
        }
    }

    /// Probes every member once, concurrently, and applies the results.
    package func checkAll() async {
        let members = await pool.snapshot.backends.filter { $0.state != .draining }.map(\.address)
        machines = machines.filter { members.contains($0.key) }
        let probe = self.probe
        let results = await withTaskGroup(of: (HostPort, HealthProbe.Result).self) { group in
            for address in members {
                group.addTask { (address, await probe.check(address)) }
            }
            var results: [(HostPort, HealthProbe.Result)] = []
            for await result in group { results.append(result) }
            return results
        }
        for (address, result) in results {
            var machine = machines[address] ?? HealthStateMachine(settings: settings)
            let now = clock.now
            let action: HealthStateMachine.Action
            switch result {
            case .passed: action = machine.checkPassed(at: now)
            case .failed(let reason):
                action = machine.checkFailed(at: now, reason: reason)
                logger.debug("health check failed", metadata: ["backend.address": "\(address)", "reason": "\(reason)"])
            case .inconclusive(let reason):
                logger.warning("health check skipped", metadata: ["backend.address": "\(address)", "reason": "\(reason)"])
                continue
            }
            machines[address] = machine
            Counter(label: "tugboat_health_checks_total",
                    dimensions: [("backend", address.description), ("result", result == .passed ? "passed" : "failed")]).increment()
            await apply(action, to: address)
        }
    }

    private func passiveFailures(_ address: HostPort, _ count: Int) async {
        guard var machine = machines[address] else { return }
        let action = machine.passiveFailures(count, at: clock.now)
        machines[address] = machine
        await apply(action, to: address)
    }

    private func apply(_ action: HealthStateMachine.Action, to address: HostPort) async {
        if case .transition(let state, let reason) = action {
            await pool.setState(address, state, reason: reason)
        }
    }
}
