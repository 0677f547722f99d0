import TugboatCore

/// The visible scaling state machine: IDLE → BUSY → READY → UP (→ IDLE once settled) when scaling
/// up; UP/IDLE → DRAINING → BUSY → IDLE when scaling down. Pure: time comes with each event, and
/// every effect is an ``Action`` for the caller (the ``Scaler``) to carry out.
///
/// A launched instance joins the pool as `starting` and counts as READY only once the pool reports
/// it healthy; an instance leaving is drained first, then removed from the pool and stopped.
/// Failed launches, failed health checks and failed stops are failed transitions (rows with
/// `failed: true` and an ``Action/alert(_:)``), retried with exponential backoff.
///
/// With `platformPicksLeavers` (Kubernetes) a scale-down does not choose: it asks for a count
/// (``Action/shrink(to:)``) and drains each instance the platform reports ``Event/leaving(_:)``,
/// which is also how an instance taken away unasked (a pod evicted) leaves.
package struct ScalingStateMachine: Sendable {
    package typealias Instant = ContinuousClock.Instant

    package enum Event: Sendable, Equatable {
        /// The policy's count (sent every tick, also when unchanged: it drives timeouts and retries).
        case desired(Int, reason: String)
        /// Instances found running at start (provider `list`), to be adopted.
        case adopted([ScalingInstance])
        /// A ``Action/launch(token:)`` finished.
        case launched(token: Int, ScalingInstance)
        case launchFailed(token: Int, error: String)
        /// The pool reports this address healthy.
        case healthy(HostPort)
        /// A draining instance's drain time is over (or it has nothing in flight).
        case drained(ScalingInstance)
        case stopped(ScalingInstance)
        case stopFailed(ScalingInstance, error: String)
        /// The instance exited on its own (`status` as text: "exit 70", "signal 9").
        case exited(ScalingInstance, status: String)
        /// The platform is taking this instance away (a Kubernetes endpoint turned terminating or vanished).
        case leaving(ScalingInstance)
        /// A ``Action/shrink(to:)`` failed.
        case shrinkFailed(error: String)
    }

    package enum Action: Sendable, Equatable {
        /// Ask the provider for a new instance; answer with `.launched` or `.launchFailed` with this token.
        case launch(token: Int)
        /// Add to the pool as `starting` (no traffic until its health check passes).
        case addToPool(ScalingInstance)
        /// Watch the pool and send `.healthy(address)` once it is healthy.
        case waitHealthy(ScalingInstance)
        /// Set it `draining` in the pool; send `.drained` after `duration` (or when nothing is in flight).
        case drain(ScalingInstance, duration: Duration)
        case removeFromPool(ScalingInstance)
        /// Ask the provider to stop it; answer with `.stopped` or `.stopFailed`.
        case stop(ScalingInstance)
        /// A row for the event log.
        case record(ScalingTransition)
        /// Something a person should hear about (failed launch, stop or health check).
        case alert(String)
        /// Ask the platform to run this many instances (it picks which leave); answer failures with `.shrinkFailed`.
        case shrink(to: Int)
    }

    private enum Phase: Equatable {
        case starting(since: Instant)
        case ready
        case draining
        case stopping(attempt: Int)
        case stopRetry(at: Instant, attempt: Int)

        var isActive: Bool {
            switch self {
            case .starting, .ready: true
            default: false
            }
        }
    }

    private struct Member {
        var instance: ScalingInstance
        var phase: Phase
    }

    package private(set) var state: ScalingState = .idle
    private var stateSince: Instant?
    private var members: [Member] = []
    private var launches: [Int: Instant] = [:]
    private var nextToken = 0
    private var launchFailures = 0
    private var retryAt: Instant?
    private var changeFrom = 0
    private var settings: ScalingSettings
    private let platformPicksLeavers: Bool
    /// A shrink asked of the platform whose leavers have not all been reported yet.
    private var shrinking: (to: Int, since: Instant)?
    private var shrinkRetryAt: Instant?

    /// - Parameter platformPicksLeavers: the provider's platform chooses which instances go on a
    ///   scale-down (a ``ReplicaProvider``).
    package init(settings: ScalingSettings, platformPicksLeavers: Bool = false) {
        self.settings = settings
        self.platformPicksLeavers = platformPicksLeavers
    }

    /// A config reload changed `scaling`: instances, phases and backoff stay; the new start
    /// timeout, drain, cooldown and retry delays apply from the next event (a drain under way
    /// keeps its length).
    package mutating func replaceSettings(_ settings: ScalingSettings) {
        self.settings = settings
    }

    /// Instances running or on their way, not leaving: what the policy calls `current`.
    package var activeCount: Int { launches.count + members.count(where: { $0.phase.isActive }) }
    /// Instances that passed their health check and serve traffic.
    package var readyCount: Int { members.count(where: { $0.phase == .ready }) }
    /// Every instance the machine knows of, with whether it serves.
    package var instances: [ScalingInstance] { members.map(\.instance) }
    /// Consecutive failed launches (reset by an instance becoming ready).
    package var consecutiveLaunchFailures: Int { launchFailures }

    private var inProgress: Bool {
        !launches.isEmpty || shrinking != nil || members.contains { $0.phase != .ready }
    }

    private func backoff(_ failures: Int) -> Duration {
        Backoff(first: settings.retryFirst, maximum: settings.retryMax).delay(afterAttempt: failures, random: 0)
    }

    private mutating func enter(_ next: ScalingState, from: Int, to: Int, reason: String, failed: Bool = false, now: Instant, into actions: inout [Action]) {
        state = next
        stateSince = now
        actions.append(.record(ScalingTransition(from: from, to: to, state: next, reason: reason, failed: failed)))
    }

    private func index(of instance: ScalingInstance) -> Int? {
        members.firstIndex { $0.instance.providerID == instance.providerID && $0.instance.address == instance.address }
    }

    package mutating func event(_ event: Event, now: Instant) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .desired(let desired, let reason):
            tick(now: now, into: &actions)
            reconcile(desired: desired, reason: reason, now: now, into: &actions)

        case .adopted(let found):
            let before = activeCount
            var adopted: [ScalingInstance] = []
            for instance in found where index(of: instance) == nil {
                members.append(Member(instance: instance, phase: .starting(since: now)))
                actions.append(.addToPool(instance))
                actions.append(.waitHealthy(instance))
                adopted.append(instance)
            }
            if !adopted.isEmpty {
                changeFrom = before
                enter(.busy, from: before, to: activeCount, reason: "adopting \(adopted.count) running instance(s): \(adopted.map { "\($0.address)" }.joined(separator: ", "))", now: now, into: &actions)
            }

        case .launched(let token, let instance):
            guard launches.removeValue(forKey: token) != nil else {
                actions.append(.stop(instance))  // not asked for (any more): do not leak it
                return actions
            }
            members.append(Member(instance: instance, phase: .starting(since: now)))
            actions.append(.addToPool(instance))
            actions.append(.waitHealthy(instance))

        case .launchFailed(let token, let error):
            guard launches.removeValue(forKey: token) != nil else { return actions }
            launchFailures += 1
            let delay = backoff(launchFailures)
            retryAt = now + delay
            actions.append(.alert("scaling: launch failed (\(launchFailures) in a row): \(error)"))
            enter(inProgress ? .busy : .up, from: changeFrom, to: activeCount,
                  reason: "launch failed: \(error); retry in \(delay)", failed: true, now: now, into: &actions)

        case .healthy(let address):
            guard let i = members.firstIndex(where: { $0.instance.address == address }),
                  case .starting = members[i].phase else { return actions }
            let readyBefore = readyCount
            members[i].phase = .ready
            launchFailures = 0
            retryAt = nil
            enter(.ready, from: readyBefore, to: readyCount, reason: "\(members[i].instance.address) passed its health check and joined the pool", now: now, into: &actions)
            if !inProgress {
                enter(.up, from: changeFrom, to: activeCount, reason: "watching the rate again", now: now, into: &actions)
            }

        case .drained(let instance):
            guard let i = index(of: instance), members[i].phase == .draining else { return actions }
            members[i].phase = .stopping(attempt: 1)
            actions.append(.removeFromPool(instance))
            actions.append(.stop(instance))
            enter(.busy, from: changeFrom, to: activeCount, reason: "stopping \(instance.address) after draining", now: now, into: &actions)

        case .stopped(let instance):
            guard let i = index(of: instance) else { return actions }
            members.remove(at: i)
            if !inProgress {
                enter(.idle, from: changeFrom, to: activeCount, reason: "stopped \(instance.address)", now: now, into: &actions)
            }

        case .stopFailed(let instance, let error):
            guard let i = index(of: instance), case .stopping(let attempt) = members[i].phase else { return actions }
            let delay = backoff(attempt)
            members[i].phase = .stopRetry(at: now + delay, attempt: attempt + 1)
            actions.append(.alert("scaling: stopping \(instance.address) failed (attempt \(attempt)): \(error)"))
            enter(.busy, from: changeFrom, to: activeCount, reason: "stop of \(instance.address) failed: \(error); retry in \(delay)", failed: true, now: now, into: &actions)

        case .exited(let instance, let status):
            guard let i = index(of: instance) else { return actions }
            let phase = members[i].phase
            let before = activeCount
            members.remove(at: i)
            actions.append(.removeFromPool(instance))
            if case .starting = phase {
                // Died before passing its health check: a failed launch (backoff against crash loops).
                launchFailures += 1
                let delay = backoff(launchFailures)
                retryAt = now + delay
                actions.append(.alert("scaling: \(instance.address) exited before passing its health check (\(status))"))
                changeFrom = before
                enter(inProgress ? .busy : .up, from: before, to: activeCount,
                      reason: "\(instance.address) exited while starting (\(status)); retry in \(delay)", failed: true, now: now, into: &actions)
            } else if phase.isActive {
                changeFrom = before
                enter(.up, from: before, to: activeCount, reason: "\(instance.address) exited on its own (\(status))", failed: true, now: now, into: &actions)
            } else if !inProgress {
                enter(.idle, from: changeFrom, to: activeCount, reason: "\(instance.address) exited while leaving (\(status))", now: now, into: &actions)
            }

        case .leaving(let instance):
            guard let i = index(of: instance), members[i].phase.isActive else { return actions }
            let before = activeCount
            let planned = shrinking != nil
            if !planned { changeFrom = before }
            members[i].phase = .draining
            actions.append(.drain(instance, duration: settings.drain))
            if let target = shrinking?.to, activeCount <= target { shrinking = nil }
            enter(.draining, from: before, to: activeCount,
                  reason: planned ? "the platform picked \(instance.address) to leave; draining it"
                                  : "the platform is taking \(instance.address) away; draining it",
                  now: now, into: &actions)

        case .shrinkFailed(let error):
            guard shrinking != nil else { return actions }
            shrinking = nil
            launchFailures += 1
            let delay = backoff(launchFailures)
            shrinkRetryAt = now + delay
            actions.append(.alert("scaling: scale-down failed: \(error)"))
            enter(inProgress ? .busy : .up, from: changeFrom, to: activeCount, reason: "scale-down failed: \(error); retry in \(delay)",
                  failed: true, now: now, into: &actions)
        }
        return actions
    }

    /// Timeouts and retries that are due.
    private mutating func tick(now: Instant, into actions: inout [Action]) {
        if let shrinking, now - shrinking.since >= settings.startTimeout {
            self.shrinking = nil
            actions.append(.alert("scaling: the platform took no instance away within \(settings.startTimeout) of asking for \(shrinking.to)"))
            enter(inProgress ? .busy : .up, from: changeFrom, to: activeCount,
                  reason: "asked for \(shrinking.to) instance(s) but none left within \(settings.startTimeout)", failed: true, now: now, into: &actions)
        }
        for i in members.indices {
            switch members[i].phase {
            case .starting(let since) where now - since >= settings.startTimeout:
                let instance = members[i].instance
                members[i].phase = .stopping(attempt: 1)
                launchFailures += 1
                let delay = backoff(launchFailures)
                retryAt = now + delay
                actions.append(.removeFromPool(instance))
                actions.append(.stop(instance))
                actions.append(.alert("scaling: \(instance.address) did not pass its health check within \(settings.startTimeout)"))
                enter(.busy, from: changeFrom, to: activeCount,
                      reason: "\(instance.address) not healthy after \(settings.startTimeout); stopping it, retry in \(delay)",
                      failed: true, now: now, into: &actions)
            case .stopRetry(let at, let attempt) where now >= at:
                members[i].phase = .stopping(attempt: attempt)
                actions.append(.stop(members[i].instance))
            default:
                break
            }
        }
    }

    private mutating func reconcile(desired: Int, reason: String, now: Instant, into actions: inout [Action]) {
        let active = activeCount
        if desired > active {
            if let retryAt, now < retryAt { return }  // backing off after a failure
            retryAt = nil
            if !inProgress { changeFrom = active }
            shrinking = nil  // more wanted again: a shrink still under way is superseded
            for _ in active..<desired {
                nextToken += 1
                launches[nextToken] = now
                actions.append(.launch(token: nextToken))
            }
            enter(.busy, from: active, to: desired, reason: reason, now: now, into: &actions)
            return
        }
        retryAt = nil
        if desired < active {
            // Scale down only once every launch has settled; the newest ready instances leave first.
            guard !inProgress else { return }
            if platformPicksLeavers {
                if let shrinkRetryAt, now < shrinkRetryAt { return }
                shrinkRetryAt = nil
                changeFrom = active
                shrinking = (desired, now)
                actions.append(.shrink(to: desired))
                enter(.draining, from: active, to: desired, reason: "\(reason); asking for \(desired) (the platform picks which instances leave)",
                      now: now, into: &actions)
                return
            }
            changeFrom = active
            var leaving = active - desired
            var names: [String] = []
            for i in members.indices.reversed() where leaving > 0 && members[i].phase == .ready {
                members[i].phase = .draining
                actions.append(.drain(members[i].instance, duration: settings.drain))
                names.append("\(members[i].instance.address)")
                leaving -= 1
            }
            enter(.draining, from: active, to: activeCount, reason: "\(reason); draining \(names.joined(separator: ", "))", now: now, into: &actions)
            return
        }
        if state == .up, !inProgress, let stateSince, now - stateSince >= settings.cooldownUp {
            enter(.idle, from: active, to: active, reason: "settled at \(active) instance(s)", now: now, into: &actions)
        }
    }
}
