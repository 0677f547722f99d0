import TugboatCore

/// The life of one incident (one rule, one target): `pending → firing → acknowledged → resolved`.
/// Pure: time comes in with each event; the caller persists and pages according to the actions.
public struct IncidentStateMachine: Sendable {
    public struct Policy: Sendable, Equatable {
        /// The condition must hold this long before the incident fires.
        public var pendingFor: Duration
        /// A firing incident resolves only after the condition stayed clear this long.
        public var keepFiringFor: Duration
        /// Reminders while firing and not acknowledged; zero for none.
        public var repeatInterval: Duration
        /// Escalate once, this long after firing, while not acknowledged.
        public var escalateAfter: Duration?

        public init(pendingFor: Duration = .zero, keepFiringFor: Duration = .zero, repeatInterval: Duration = .zero, escalateAfter: Duration? = nil) {
            self.pendingFor = pendingFor
            self.keepFiringFor = keepFiringFor
            self.repeatInterval = repeatInterval
            self.escalateAfter = escalateAfter
        }

        public init(rule: AlertRule, repeatInterval: Duration) {
            self.init(pendingFor: rule.pendingFor, keepFiringFor: rule.keepFiringFor,
                      repeatInterval: repeatInterval, escalateAfter: rule.escalate?.after)
        }
    }

    public enum Action: Equatable, Sendable {
        /// Page every channel of the rule (exactly once per incident).
        case fire
        /// A reminder (`repeat`).
        case remind
        /// Page the escalation channels.
        case escalate
        /// Someone acknowledged: no more reminders or escalation.
        case acknowledged
        /// The condition cleared: tell the text channels.
        case resolve
    }

    public enum Phase: Equatable, Sendable {
        case inactive
        case pending(since: ContinuousClock.Instant)
        case firing(Firing)
    }

    public struct Firing: Equatable, Sendable {
        public var since: ContinuousClock.Instant
        public var lastPageAt: ContinuousClock.Instant
        public var acknowledged = false
        public var escalated = false
        /// When the condition last stopped holding (for keep-firing-for).
        public var clearSince: ContinuousClock.Instant?
    }

    public private(set) var phase: Phase = .inactive
    public let policy: Policy

    public init(policy: Policy) {
        self.policy = policy
    }

    /// An incident that was firing before a restart: it does not page again.
    public init(policy: Policy, restoringFiringAt now: ContinuousClock.Instant, acknowledged: Bool) {
        self.policy = policy
        self.phase = .firing(Firing(since: now, lastPageAt: now, acknowledged: acknowledged, escalated: acknowledged))
    }

    public var isFiring: Bool { if case .firing = phase { true } else { false } }

    /// The condition was evaluated: `active` is whether it holds now.
    public mutating func observe(active: Bool, at now: ContinuousClock.Instant) -> [Action] {
        switch phase {
        case .inactive:
            guard active else { return [] }
            phase = .pending(since: now)
        case .pending:
            // A blip shorter than `for` pages nobody.
            if !active { phase = .inactive; return [] }
        case .firing(var firing):
            if active {
                firing.clearSince = nil
            } else if firing.clearSince == nil {
                firing.clearSince = now
            }
            phase = .firing(firing)
        }
        return tick(at: now)
    }

    /// Time passed: fire after `for`, remind, escalate, resolve after `keep-firing-for`.
    public mutating func tick(at now: ContinuousClock.Instant) -> [Action] {
        switch phase {
        case .inactive:
            return []
        case .pending(let since):
            guard now - since >= policy.pendingFor else { return [] }
            phase = .firing(Firing(since: now, lastPageAt: now))
            return [.fire]
        case .firing(var firing):
            if let clear = firing.clearSince, now - clear >= policy.keepFiringFor {
                phase = .inactive
                return [.resolve]
            }
            var actions: [Action] = []
            if !firing.acknowledged {
                if policy.repeatInterval > .zero, now - firing.lastPageAt >= policy.repeatInterval {
                    firing.lastPageAt = now
                    actions.append(.remind)
                }
                if let after = policy.escalateAfter, !firing.escalated, now - firing.since >= after {
                    firing.escalated = true
                    actions.append(.escalate)
                }
            }
            phase = .firing(firing)
            return actions
        }
    }

    /// A person acknowledged the incident.
    public mutating func acknowledge() -> [Action] {
        guard case .firing(var firing) = phase, !firing.acknowledged else { return [] }
        firing.acknowledged = true
        phase = .firing(firing)
        return [.acknowledged]
    }
}
