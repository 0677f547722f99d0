import Foundation
import Logging
import ServiceLifecycle
import TugboatCore

/// The scaling service: traffic samples → ``ScalingPolicy`` → ``ScalingStateMachine`` → provider
/// and ``Pool``.
///
/// Every `tick` it asks the policy for the desired count and feeds it to the state machine, then
/// carries out the actions: launches and stops through the provider (concurrently, as child tasks),
/// pool membership through the `Pool` actor only (`add` as `starting`, `setState(.draining)`,
/// `remove`). An instance is READY when a pool snapshot shows it `healthy` (the health checker moves
/// it there). At start it adopts what the provider lists; on graceful shutdown it calls the
/// provider's `shutdown()` (the process provider stops its children there). A provider that is
/// also a `Service` (docker: it follows the daemon's events) is run by the scaler; do not add it to
/// the `ServiceGroup` as well.
package actor Scaler: Service {
    private var settings: ScalingSettings
    private let provider: any InstanceProvider
    private let pool: Pool
    private let signals: SignalBus
    private let logger: Logger
    private let tick: Duration
    private let clock: ServiceClock
    private let drainComplete: (@Sendable (HostPort) async -> Bool)?
    private let eventLimit: Int

    private var policy: ScalingPolicy
    private var machine: ScalingStateMachine
    private var log: [ScalingEventRecord] = []
    private var awaitingHealth: Set<HostPort> = []
    private var lastSnapshot: PoolSnapshot?
    private var lastDecision: ScalingPolicy.Decision?
    /// With several nodes only the leader scales (``setLeading(_:)``); a single node always does.
    private var leading = true
    private let noticeBroadcast = Broadcast<ScalingNotice>(bufferSize: 1024, replaysLatest: false)
    private let jobs: AsyncStream<@Sendable () async -> Void>
    private let jobContinuation: AsyncStream<@Sendable () async -> Void>.Continuation

    /// - Parameters:
    ///   - tick: how often the policy is asked (its samples come from `.traffic` signals).
    ///   - drainComplete: asked every 100 ms while an instance drains; true ends the drain early
    ///     (e.g. the proxy's in-flight count for it is zero). Without it a drain lasts `settings.drain`.
    ///   - eventLimit: the event log keeps this many newest rows.
    ///   - clock: the ticks, the policy's windows, the state machine's time-outs and retries, drains
    ///     and the events' times (tests pass a manual one).
    package init(settings: ScalingSettings, provider: any InstanceProvider, pool: Pool, signals: SignalBus,
                logger: Logger, tick: Duration = .seconds(1),
                drainComplete: (@Sendable (HostPort) async -> Bool)? = nil, eventLimit: Int = 1000,
                clock: ServiceClock = .continuous) {
        self.settings = settings
        self.provider = provider
        self.pool = pool
        self.signals = signals
        self.logger = logger
        self.tick = tick
        self.clock = clock
        self.drainComplete = drainComplete
        self.eventLimit = eventLimit
        self.policy = ScalingPolicy(settings: settings)
        self.machine = ScalingStateMachine(settings: settings, platformPicksLeavers: provider is any ReplicaProvider)
        (jobs, jobContinuation) = AsyncStream.makeStream()
    }

    // MARK: What the admin API and alerts read

    /// The event log, oldest first: the rows of `GET /api/scaling/events`.
    package var events: [ScalingEventRecord] { log }

    /// The state last entered.
    package var state: ScalingState { machine.state }

    /// Instances running or starting (not leaving), and those that serve.
    package var counts: (active: Int, ready: Int) { (machine.activeCount, machine.readyCount) }

    /// The policy's last decision (rates, desired count, reason, panic).
    package var decision: ScalingPolicy.Decision? { lastDecision }

    /// Transitions, alerts and instance exits from now on. Ends when the scaler stops.
    package nonisolated func notices() -> AsyncStream<ScalingNotice> {
        noticeBroadcast.stream()
    }

    private nonisolated func notify(_ notice: ScalingNotice) {
        noticeBroadcast.publish(notice)
    }

    // MARK: The loop

    package func run() async throws {
        let traffic = signals.subscribe()
        let (snapshots, snapshotContinuation) = AsyncStream<PoolSnapshot>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await pool.observe { snapshotContinuation.yield($0) }
        let exits = provider.exits
        let provider = self.provider
        let jobs = self.jobs
        let jobContinuation = self.jobContinuation
        let tick = self.tick
        let clock = self.clock

        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                if let watcher = provider as? any Service {
                    // A provider with a loop of its own (docker: the die events; kubernetes: the
                    // endpoint watch, which its list waits for) runs under the scaler.
                    let logger = self.logger
                    group.addTask {
                        do { try await watcher.run() } catch {
                            logger.warning("scaling: provider watch ended", metadata: ["error": "\(error)"])
                        }
                    }
                }
                // Adopt what runs before the first decision (a graceful stop does not wait for it:
                // a provider whose platform cannot be reached may wait up to its own limit).
                do {
                    let found = try await cancelWhenGracefulShutdown { try await provider.list() }
                    await handle(.adopted(found))
                } catch {
                    logger.warning("scaling: cannot list running instances to adopt", metadata: ["error": "\(error)"])
                }
                group.addTask {
                    for await signal in traffic {
                        if case .traffic(let sample) = signal { await self.observe(sample) }
                    }
                }
                group.addTask {
                    for await snapshot in snapshots { await self.poolChanged(snapshot) }
                }
                group.addTask {
                    for await exit in exits { await self.exited(exit) }
                }
                if let replicas = provider as? any ReplicaProvider {
                    let leaving = replicas.leaving, arriving = replicas.arriving
                    group.addTask {
                        for await instance in leaving { await self.handle(.leaving(instance)) }
                    }
                    // Leader or not: every node proxies, so every node's pool follows the platform.
                    group.addTask {
                        for await instance in arriving { await self.handle(.adopted([instance])) }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: tick) } catch { return }
                        await self.evaluate()
                    }
                }
                for await job in jobs {
                    group.addTask { await job() }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            jobContinuation.finish()
        }
        snapshotContinuation.finish()
        await provider.shutdown()
        noticeBroadcast.finish()
    }

    /// A config reload changed `scaling` (the provider of the same kind): the policy and state
    /// machine keep what they know and follow the new settings from the next tick; the provider
    /// launches new instances with its new settings, and those running stay until scaled down.
    package func update(_ settings: ScalingSettings) {
        self.settings = settings
        policy.replaceSettings(settings)
        machine.replaceSettings(settings)
        provider.update(settings.provider)
        logger.info("scaling settings replaced", metadata: ["scaling.min": "\(settings.min)", "scaling.max": "\(settings.max)"])
    }

    /// A request is waiting and nothing serves (scale to zero): counts as one request this second
    /// and asks the policy at once, so the first instance starts without waiting for a tick.
    /// The proxy calls this when it holds a request at zero ready instances (held requests are
    /// not in the traffic samples yet, which count finished requests).
    package func wake() async {
        guard leading else { return }
        policy.observe(rate: 1, at: clock.now)
        if machine.activeCount == 0 { await evaluate() }
    }

    /// One traffic sample, at the clock's now (tests on a manual clock hand samples in here).
    func observe(_ sample: TrafficSample) {
        policy.observe(rate: sample.rate, concurrency: sample.concurrency, at: clock.now)
    }

    /// Several nodes: this node won (true) or lost (false) the leader lease. A follower keeps
    /// observing but decides nothing (a ``ReplicaProvider``'s arrivals and leavers still join and
    /// leave its pool: every node proxies); a new leader first adopts what its provider finds running
    /// and `adopting` (the former leader's instances, from the shared registry), so a takeover
    /// does not repeat a scaling step.
    package func setLeading(_ leading: Bool, adopting: [ScalingInstance] = []) async {
        guard leading != self.leading else { return }
        self.leading = leading
        guard leading else { return }
        var found: [ScalingInstance] = []
        do {
            found = try await provider.list()
        } catch {
            logger.warning("scaling: cannot list running instances to adopt", metadata: ["error": "\(error)"])
        }
        found += adopting.filter { instance in !found.contains { $0.address == instance.address } }
        await handle(.adopted(found))
    }

    /// Whether this node scales now.
    package var isLeading: Bool { leading }

    private func evaluate() async {
        guard leading else { return }
        let decision = policy.decide(current: machine.activeCount, ready: machine.readyCount, now: clock.now)
        lastDecision = decision
        await handle(.desired(decision.desired, reason: decision.reason))
    }

    private func poolChanged(_ snapshot: PoolSnapshot) async {
        lastSnapshot = snapshot
        for backend in snapshot.backends where backend.state == .healthy && awaitingHealth.contains(backend.address) {
            awaitingHealth.remove(backend.address)
            await handle(.healthy(backend.address))
        }
    }

    private func exited(_ exit: InstanceExit) async {
        notify(.instanceExited(exit))
        awaitingHealth.remove(exit.instance.address)
        await handle(.exited(exit.instance, status: exit.status.description))
    }

    /// Feeds one event to the state machine and carries out its actions.
    private func handle(_ event: ScalingStateMachine.Event) async {
        let actions = machine.event(event, now: clock.now)
        for action in actions { await perform(action) }
    }

    private func perform(_ action: ScalingStateMachine.Action) async {
        let provider = self.provider
        switch action {
        case .launch(let token):
            enqueue {
                do {
                    let instance = try await provider.launch()
                    await self.handle(.launched(token: token, instance))
                } catch {
                    await self.handle(.launchFailed(token: token, error: "\(error)"))
                }
            }

        case .addToPool(let instance):
            await pool.add(instance.address, state: .starting, reason: "launched by scaling (\(provider.name))")

        case .waitHealthy(let instance):
            awaitingHealth.insert(instance.address)
            if let lastSnapshot, lastSnapshot.backends.contains(where: { $0.address == instance.address && $0.state == .healthy }) {
                awaitingHealth.remove(instance.address)
                let address = instance.address
                enqueue { await self.handle(.healthy(address)) }
            }

        case .drain(let instance, let duration):
            await pool.setState(instance.address, .draining, reason: "scaling down")
            let drainComplete = self.drainComplete
            let clock = self.clock
            enqueue {
                _ = await DrainWait.until(within: duration, every: .milliseconds(100), clock: clock) {
                    await drainComplete?(instance.address) ?? false
                }
                await self.handle(.drained(instance))
            }

        case .removeFromPool(let instance):
            awaitingHealth.remove(instance.address)
            await pool.remove(instance.address)

        case .stop(let instance):
            enqueue {
                do {
                    try await provider.stop(instance)
                    await self.handle(.stopped(instance))
                } catch {
                    await self.handle(.stopFailed(instance, error: "\(error)"))
                }
            }

        case .record(let transition):
            let record = ScalingEventRecord(at: clock.date, transition: transition)
            log.append(record)
            if log.count > eventLimit { log.removeFirst(log.count - eventLimit) }
            let metadata: Logger.Metadata = [
                "scaling.state": "\(transition.state.rawValue)", "scaling.from": "\(transition.from)",
                "scaling.to": "\(transition.to)", "reason": "\(transition.reason)",
            ]
            if transition.failed { logger.warning("scaling transition", metadata: metadata) }
            else { logger.info("scaling transition", metadata: metadata) }
            notify(.transition(record))

        case .alert(let text):
            logger.error("scaling failure", metadata: ["reason": "\(text)"])
            notify(.alert(text))

        case .shrink(let count):
            guard let replicas = provider as? any ReplicaProvider else { return }
            enqueue {
                do {
                    try await replicas.shrink(to: count)
                } catch {
                    await self.handle(.shrinkFailed(error: "\(error)"))
                }
            }
        }
    }

    private func enqueue(_ job: @escaping @Sendable () async -> Void) {
        jobContinuation.yield(job)
    }
}
