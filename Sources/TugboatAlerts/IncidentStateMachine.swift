import TugboatCore

/// The life of one incident (one rule, one target): `pending → firing → resolved`.
/// Pure: time comes in with each event; the caller persists and hands firing incidents to the
/// ``OutageGrouper``, which decides who is paged (reminders, escalation and acknowledgement belong
/// to the outage, not to each incident).
package struct IncidentStateMachine: Sendable {
    package struct Policy: Sendable, Equatable {
        /// The condition must hold this long before the incident fires.
        package var pendingFor: Duration
        /// A firing incident resolves only after the condition stayed clear this long.
        package var keepFiringFor: Duration

        package init(pendingFor: Duration = .zero, keepFiringFor: Duration = .zero) {
            self.pendingFor = pendingFor
            self.keepFiringFor = keepFiringFor
        }

        package init(rule: AlertRule) {
            self.init(pendingFor: rule.pendingFor, keepFiringFor: rule.keepFiringFor)
        }
    }

    package enum Action: Equatable, Sendable {
        /// The condition held for `for`: the incident fires (exactly once).
        case fire
        /// The condition stayed clear for `keep-firing-for`.
        case resolve
    }

    package enum Phase: Equatable, Sendable {
        case inactive
        case pending(since: ContinuousClock.Instant)
        case firing(since: ContinuousClock.Instant, clearSince: ContinuousClock.Instant?)
    }

    package private(set) var phase: Phase = .inactive
    package private(set) var policy: Policy
    /// Set while the target flaps: the incident resolves only after this much quiet.
    private var quiet: Duration?

    package init(policy: Policy) {
        self.policy = policy
    }

    /// An incident that was firing before a restart: it does not fire again.
    package init(policy: Policy, restoringFiringAt now: ContinuousClock.Instant) {
        self.policy = policy
        self.phase = .firing(since: now, clearSince: nil)
    }

    /// A condition that was pending before a restart, since `since` (on this process's clock): its
    /// `for` window goes on instead of starting again.
    package init(policy: Policy, restoringPendingSince since: ContinuousClock.Instant) {
        self.policy = policy
        self.phase = .pending(since: since)
    }

    package var isFiring: Bool { if case .firing = phase { true } else { false } }
    package var isPending: Bool { if case .pending = phase { true } else { false } }

    /// The condition was evaluated: `active` is whether it holds now.
    package mutating func observe(active: Bool, at now: ContinuousClock.Instant) -> [Action] {
        switch phase {
        case .inactive:
            guard active else { return [] }
            phase = .pending(since: now)
        case .pending:
            // A blip shorter than `for` pages nobody.
            if !active { phase = .inactive; return [] }
        case .firing(let since, let clearSince):
            phase = .firing(since: since, clearSince: active ? nil : clearSince ?? now)
        }
        return tick(at: now)
    }

    /// Time passed: fire after `for`, resolve after `keep-firing-for`.
    package mutating func tick(at now: ContinuousClock.Instant) -> [Action] {
        switch phase {
        case .inactive:
            return []
        case .pending(let since):
            guard now - since >= policy.pendingFor else { return [] }
            phase = .firing(since: now, clearSince: nil)
            return [.fire]
        case .firing(_, let clearSince):
            guard let clearSince, now - clearSince >= policy.keepFiringFor else { return [] }
            phase = .inactive
            return [.resolve]
        }
    }

    /// The target is flapping: the incident stays open until the condition has been clear for
    /// `quiet` (at least its own `keep-firing-for`).
    package mutating func holdOpen(quietFor quiet: Duration) {
        self.quiet = quiet
        policy.keepFiringFor = max(policy.keepFiringFor, quiet)
    }

    /// A config reload edited the rule: its `for` and `keep-firing-for` judge the incident from
    /// now on, whatever phase it is in (a flapping target stays held open).
    package mutating func replacePolicy(_ policy: Policy) {
        self.policy = policy
        if let quiet { self.policy.keepFiringFor = max(policy.keepFiringFor, quiet) }
    }
}
