import Foundation
import Logging
import Synchronization
import Testing
import TugboatCore
@testable import TugboatScaling

/// A provider without processes: instances on made-up ports; launches can be told to fail.
final class FakeProvider: InstanceProvider {
    let name = "fake"
    let exits: AsyncStream<InstanceExit>
    let exitContinuation: AsyncStream<InstanceExit>.Continuation
    private let state = Mutex<(next: Int, failures: Int, running: [ScalingInstance], stopped: [ScalingInstance], shutDown: Bool)>((40000, 0, [], [], false))

    init(failFirst: Int = 0, running: [ScalingInstance] = []) {
        (exits, exitContinuation) = AsyncStream.makeStream()
        state.withLock {
            $0.failures = failFirst
            $0.running = running
        }
    }

    var running: [ScalingInstance] { state.withLock { $0.running } }
    var stopped: [ScalingInstance] { state.withLock { $0.stopped } }
    var shutDown: Bool { state.withLock { $0.shutDown } }

    func launch() async throws -> ScalingInstance {
        try state.withLock { state in
            if state.failures > 0 {
                state.failures -= 1
                throw ProviderError("no capacity")
            }
            state.next += 1
            let instance = ScalingInstance(providerID: "fake-\(state.next)", address: HostPort(host: "127.0.0.1", port: state.next))
            state.running.append(instance)
            return instance
        }
    }

    func stop(_ instance: ScalingInstance) async throws {
        state.withLock { state in
            state.running.removeAll { $0 == instance }
            state.stopped.append(instance)
        }
    }

    func list() async throws -> [ScalingInstance] { running }

    func update(_ settings: ScalingSettings.Provider) {}

    func shutdown() async {
        state.withLock { $0.shutDown = true }
        exitContinuation.finish()
    }
}

/// Plays the health checker: marks `starting` backends healthy once `isHealthy` says so.
func simulateHealthChecks(_ pool: Pool, isHealthy: @escaping @Sendable (HostPort) -> Bool = { _ in true }) async {
    while !Task.isCancelled {
        for backend in await pool.snapshot.backends where backend.state == .starting && isHealthy(backend.address) {
            await pool.setState(backend.address, .healthy, reason: "test check passed")
        }
        try? await Task.sleep(for: .milliseconds(20))
    }
}

/// Publishes one traffic sample at `rate` every 50 ms (as a per-second sample).
final class Rate: Sendable {
    private let value: Atomic<Int>
    init(_ initial: Int) { value = Atomic(initial) }
    func store(_ new: Int) { value.store(new, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

func publishTraffic(_ signals: SignalBus, rate: Rate) async {
    while !Task.isCancelled {
        let requests = UInt64(rate.current)
        signals.publish(.traffic(TrafficSample(interval: .seconds(1), requests: requests, serverErrors: 0, p99Seconds: 0, perBackend: [:])))
        try? await Task.sleep(for: .milliseconds(50))
    }
}

/// Plays the world on a manual clock, one round at a time: the health checker marks `starting`
/// backends healthy, the scaler observes a traffic sample at `rate` (none without one), and the
/// clock moves on by `step` (the scaler's tick). A round takes about 2 ms of real time, so the
/// policy's half-second windows pass in tens of milliseconds, and each sample is observed before
/// the clock moves (no window is empty because a sample came late).
func playRounds(_ scaler: Scaler, pool: Pool, clock: ManualClock, rate: Rate? = nil, step: Duration = .milliseconds(50),
                isHealthy: @escaping @Sendable (HostPort) -> Bool = { _ in true }) async {
    while !Task.isCancelled {
        for backend in await pool.snapshot.backends where backend.state == .starting && isHealthy(backend.address) {
            await pool.setState(backend.address, .healthy, reason: "test check passed")
        }
        if let rate {
            await scaler.observe(TrafficSample(interval: .seconds(1), requests: UInt64(rate.current), serverErrors: 0, p99Seconds: 0, perBackend: [:]))
        }
        clock.advance(by: step)
        try? await Task.sleep(for: .milliseconds(2))  // the round's pace: lets the scaler's jobs run
    }
}

@Suite(.serialized)
struct ScalerTests {
    let logger = Logger(label: "test.scaling.scaler")

    func settings(_ provider: ScalingSettings.Provider = .exec(up: "-", down: "-", timeout: .seconds(5)),
                  min: Int = 1, max: Int = 4) -> ScalingSettings {
        ScalingSettings(provider: provider, mode: .targetTracking(targetRPS: 10), min: min, max: max,
                        window: .milliseconds(500), cooldownUp: .zero, stabilizeDown: .milliseconds(500),
                        panicWindow: .milliseconds(200), drain: .milliseconds(100), idleToZero: .milliseconds(500),
                        startTimeout: .seconds(20), retryFirst: .milliseconds(50), retryMax: .milliseconds(200))
    }

    @Test func scalesUpWithTheRateAndBackDownThroughTheVisibleStates() async throws {
        let signals = SignalBus()
        let pool = Pool(signals: signals, logger: logger)
        let provider = FakeProvider()
        let clock = ManualClock()
        let scaler = Scaler(settings: settings(), provider: provider, pool: pool, signals: signals, logger: logger, tick: .milliseconds(50),
                            clock: ServiceClock(clock))
        let rate = Rate(0)
        let notices = scaler.notices()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scaler.run() }
            group.addTask { await playRounds(scaler, pool: pool, clock: clock, rate: rate) }

            try await waitUntil("min 1 ready") { await scaler.counts == (1, 1) }
            rate.store(35)  // ceil(35 / 10) = 4 instances
            try await waitUntil("4 ready") { await scaler.counts == (4, 4) }
            let healthy = await pool.snapshot.backends.filter { $0.state == .healthy }
            #expect(healthy.count == 4)

            rate.store(0)
            try await waitUntil("back to 1") { await scaler.counts == (1, 1) && provider.stopped.count == 3 }
            try await waitUntil("the pool to hold only the one left") { await pool.snapshot.backends.count == 1 }
            try await waitUntil("IDLE") { await scaler.state == .idle }
            group.cancelAll()
        }
        #expect(provider.shutDown)
        let events = await scaler.events
        let states = Set(events.map(\.state))
        #expect(states == Set(ScalingState.allCases))
        #expect(events.first?.state == .busy)
        #expect(events.contains { $0.state == .draining && $0.from == 4 && $0.to < 4 })  // in one or more steps
        #expect(events.last?.state == .idle)
        #expect(!events.contains { $0.failed })

        // Every row was also a notice.
        var seen: [ScalingEventRecord] = []
        for await notice in notices {
            if case .transition(let record) = notice { seen.append(record) }
        }
        #expect(seen == events)
    }

    @Test func failedLaunchesAreAlertedRetriedAndLogged() async throws {
        let signals = SignalBus()
        let pool = Pool(signals: signals, logger: logger)
        let provider = FakeProvider(failFirst: 2)
        let clock = ManualClock()
        let scaler = Scaler(settings: settings(), provider: provider, pool: pool, signals: signals, logger: logger, tick: .milliseconds(20),
                            clock: ServiceClock(clock))
        let notices = scaler.notices()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scaler.run() }
            group.addTask { await playRounds(scaler, pool: pool, clock: clock, step: .milliseconds(20)) }
            try await waitUntil("1 ready after two failures") { await scaler.counts == (1, 1) }
            group.cancelAll()
        }
        var alerts: [String] = []
        for await notice in notices {
            if case .alert(let text) = notice { alerts.append(text) }
        }
        #expect(alerts.count == 2)
        #expect(alerts.allSatisfy { $0.contains("no capacity") })
        let failed = await scaler.events.filter(\.failed)
        #expect(failed.count == 2)
        #expect(failed[0].reason.contains("retry in"))
    }

    @Test func adoptsRunningInstancesAtStart() async throws {
        let signals = SignalBus()
        let pool = Pool(signals: signals, logger: logger)
        let running = [40001, 40002].map { ScalingInstance(providerID: "old-\($0)", address: HostPort(host: "127.0.0.1", port: $0)) }
        let provider = FakeProvider(running: running)
        let clock = ManualClock()
        let scaler = Scaler(settings: settings(min: 2), provider: provider, pool: pool, signals: signals, logger: logger, tick: .milliseconds(20),
                            clock: ServiceClock(clock))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scaler.run() }
            group.addTask { await playRounds(scaler, pool: pool, clock: clock, step: .milliseconds(20)) }
            try await waitUntil("both adopted and ready") { await scaler.counts == (2, 2) }
            group.cancelAll()
        }
        #expect(await pool.snapshot.backends.map(\.address).sorted() == running.map(\.address))
        #expect(provider.running == running)  // nothing launched, nothing stopped
        #expect(await scaler.events.first?.reason.contains("adopting 2") == true)
    }

    @Test func scalesToZeroWhenIdleAndWakesForARequest() async throws {
        let signals = SignalBus()
        let pool = Pool(signals: signals, logger: logger)
        let provider = FakeProvider()
        let clock = ManualClock()
        let scaler = Scaler(settings: settings(min: 0), provider: provider, pool: pool, signals: signals, logger: logger, tick: .milliseconds(50),
                            clock: ServiceClock(clock))
        let rate = Rate(5)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scaler.run() }
            group.addTask { await playRounds(scaler, pool: pool, clock: clock, rate: rate) }
            try await waitUntil("1 ready with traffic") { await scaler.counts == (1, 1) }
            rate.store(0)
            try await waitUntil("0 after idle-to-zero") { await scaler.counts == (0, 0) && provider.running.isEmpty }
            #expect(await pool.snapshot.backends.isEmpty)
            let before = await scaler.events.count
            await scaler.wake()  // a request is held at zero instances
            // Without more traffic it goes back to zero a window later: look for the READY, not the count.
            try await waitUntil("1 ready after the wake") { await scaler.events.dropFirst(before).contains { $0.state == .ready } }
            group.cancelAll()
        }
    }

    /// Live: real demo-app children, health from their /health, a crash replaced, children gone after.
    @Test func processProviderEndToEnd() async throws {
        let signals = SignalBus()
        let pool = Pool(signals: signals, logger: logger)
        let provider = ProcessProvider(command: "\(tugboatExecutable) demo-app --port {port}", ports: portRange(),
                                       stopGrace: .seconds(5), logger: logger)
        let scaler = Scaler(settings: settings(min: 1, max: 2), provider: provider, pool: pool, signals: signals,
                            logger: logger, tick: .milliseconds(50))
        let rate = Rate(15)  // 2 instances
        let notices = scaler.notices()
        var pids: [Int32] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scaler.run() }
            group.addTask { await simulateHealthChecks(pool) { httpStatus(port: $0.port, "/health") == 200 } }
            group.addTask { await publishTraffic(signals, rate: rate) }
            try await waitUntil("2 ready") { await scaler.counts == (2, 2) }
            let instances = try await provider.list()
            pids = instances.compactMap { Int32($0.providerID) }
            #expect(instances.allSatisfy { httpStatus(port: $0.address.port, "/health") == 200 })

            // One crashes: it leaves the pool and a new one replaces it.
            let victim = instances[0]
            _ = httpStatus(port: victim.address.port, "/crash")
            try await waitUntil("the crash to be replaced") {
                let now = try await provider.list()
                let counts = await scaler.counts
                return !now.contains(victim) && now.count == 2 && counts == (2, 2)
            }
            pids += try await provider.list().compactMap { Int32($0.providerID) }
            let members = await pool.snapshot.backends.map(\.address)
            #expect(Set(members) == Set(try await provider.list().map(\.address)))  // the victim left the pool
            group.cancelAll()
        }
        for pid in Set(pids) { #expect(!processAlive(pid), "child \(pid) outlived the scaler") }
        var exits: [InstanceExit] = []
        for await notice in notices {
            if case .instanceExited(let exit) = notice { exits.append(exit) }
        }
        #expect(exits.count == 1)
        #expect(exits.first?.status == .exited(70))
        #expect(await scaler.events.contains { $0.failed && $0.reason.contains("exited on its own (exit 70)") })
    }
}

extension ScalerTests {
    /// Live: the sample exec scripts driven by the scaler, up to 2 and back to 1.
    @Test func execProviderWithTheSampleScriptsEndToEnd() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("tugboat-scaling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: state) }
        let examples = repositoryRoot.appendingPathComponent("examples").path
        let provider = ExecProvider(up: "\(examples)/scale_up.sh", down: "\(examples)/scale_down.sh", timeout: .seconds(30),
                                    environment: ["TUGBOAT_BIN": tugboatExecutable, "TUGBOAT_SCALE_DIR": state.path], logger: logger)
        let signals = SignalBus()
        let pool = Pool(signals: signals, logger: logger)
        let scaler = Scaler(settings: settings(min: 1, max: 2), provider: provider, pool: pool, signals: signals,
                            logger: logger, tick: .milliseconds(50))
        let rate = Rate(15)
        var started: [ScalingInstance] = []
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await scaler.run() }
                group.addTask { await simulateHealthChecks(pool) { httpStatus(port: $0.port, "/health") == 200 } }
                group.addTask { await publishTraffic(signals, rate: rate) }
                try await waitUntil("2 ready") { await scaler.counts == (2, 2) }
                started = try await provider.list()
                #expect(started.allSatisfy { httpStatus(port: $0.address.port, "/health") == 200 })
                rate.store(0)
                try await waitUntil("back to 1") {
                    let counts = await scaler.counts
                    let running = try await provider.list()
                    return counts == (1, 1) && running.count == 1
                }
                let left = try await provider.list()
                let gone = started.filter { !left.contains($0) }
                #expect(gone.count == 1)
                #expect(gone.allSatisfy { httpStatus(port: $0.address.port, "/health") == nil })
                // Exec instances survive a shutdown (they belong to the playbook); stop the last one here.
                for instance in left { try await provider.stop(instance) }
                group.cancelAll()
            }
        } catch {
            for instance in (try? await provider.list()) ?? [] { try? await provider.stop(instance) }
            throw error
        }
        #expect(started.allSatisfy { httpStatus(port: $0.address.port, "/health") == nil })
    }
}
