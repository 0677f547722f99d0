import TugboatCore

/// The health of one backend, as HAProxy's `rise`/`fall` and Envoy's outlier ejection mean it.
/// Pure: time comes in with each event; the caller applies the returned action.
package struct HealthStateMachine: Sendable {
    package struct Settings: Sendable {
        package var rise: Int
        package var fall: Int
        package var ejection: Duration
        package var maxEjection: Duration

        package init(rise: Int, fall: Int, ejection: Duration, maxEjection: Duration) {
            self.rise = rise
            self.fall = fall
            self.ejection = ejection
            self.maxEjection = maxEjection
        }

        package init(_ pool: PoolConfig) {
            self.init(rise: pool.health.rise, fall: pool.health.fall,
                      ejection: pool.passive.ejection, maxEjection: pool.passive.maxEjection)
        }
    }

    package enum Action: Equatable, Sendable {
        case none
        /// The backend moves to this state, for this reason.
        case transition(to: BackendState, reason: String)
    }

    package private(set) var state: BackendState = .starting
    /// While ejected by passive detection: until when no active check can bring it back.
    package private(set) var ejectedUntil: ContinuousClock.Instant?
    package private(set) var ejections = 0
    private var passes = 0
    private var failures = 0
    private var healthySince: ContinuousClock.Instant?
    /// Replaced by a reload: counts so far are kept and judged by the new thresholds.
    package var settings: Settings

    package init(settings: Settings) {
        self.settings = settings
    }

    /// An active check passed.
    package mutating func checkPassed(at now: ContinuousClock.Instant) -> Action {
        failures = 0
        passes += 1
        if let until = ejectedUntil {
            guard now >= until else { return .none }
            ejectedUntil = nil
            return become(.healthy, "ejection over and health check passed", at: now)
        }
        if state == .healthy {
            // A long healthy stretch forgives earlier ejections.
            if let since = healthySince, now - since >= settings.maxEjection { ejections = 0 }
            return .none
        }
        guard passes >= settings.rise else { return .none }
        return become(.healthy, "\(passes) health check(s) passed", at: now)
    }

    /// An active check failed.
    package mutating func checkFailed(at now: ContinuousClock.Instant, reason: String) -> Action {
        passes = 0
        failures += 1
        guard state != .unhealthy, failures >= settings.fall else { return .none }
        return become(.unhealthy, "\(failures) health check(s) failed: \(reason)", at: now)
    }

    /// Live traffic failed `consecutive` times in a row: eject for the ejection time, doubled on each repeat.
    package mutating func passiveFailures(_ consecutive: Int, at now: ContinuousClock.Instant) -> Action {
        guard state == .healthy else { return .none }
        let factor = 1 << min(ejections, 20)
        let time = min(settings.ejection * factor, settings.maxEjection)
        ejections += 1
        ejectedUntil = now + time
        passes = 0
        return become(.unhealthy, "ejected for \(DurationParser.format(time)) after \(consecutive) failures on live traffic", at: now)
    }

    private mutating func become(_ new: BackendState, _ reason: String, at now: ContinuousClock.Instant) -> Action {
        guard new != state else { return .none }
        state = new
        healthySince = new == .healthy ? now : nil
        return .transition(to: new, reason: reason)
    }
}
