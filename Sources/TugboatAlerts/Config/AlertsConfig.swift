import TugboatCore

/// `monitors:` — heartbeat targets beyond the pool (the public front itself, a database port).
package struct MonitorConfig: Sendable, Equatable {
    package enum Target: Sendable, Equatable {
        /// GET `url`, expecting `expectStatus` (any 2xx when nil) and, if set, `expectBody` in the body.
        case http(url: String, expectStatus: Int?, expectBody: String?)
        /// A TCP connect.
        case tcp(HostPort)
    }

    package var name: String
    package var target: Target
    package var interval: Duration = .seconds(15)
    package var timeout: Duration = .seconds(2)
    /// Extra failed checks in a row before the monitor counts as down (0: the first failure).
    package var retries: Int = 0

    package init(name: String, target: Target) {
        self.name = name
        self.target = target
    }
}

/// What a rule watches.
package enum AlertCondition: Sendable, Equatable {
    /// A monitor is down.
    case down(monitor: String)
    /// A pool backend is unhealthy (one incident per backend).
    case backendDown
    /// No backend in the pool is healthy.
    case noHealthyBackends
    /// Requests per second above the threshold.
    case rpsAbove(Double)
    /// Share of 5xx responses (0…1) above the threshold, over the last second with traffic.
    case errorRateAbove(Double)
    /// 99th percentile latency above the threshold.
    case p99Above(Duration)
    /// An instance quit on its own (one incident per instance). An event, not a state: the incident
    /// fires at the exit and resolves after `keep-firing-for` (5 minutes unless set) without another.
    case instanceExited
    /// A certificate of the public listener expires within the threshold (one incident per certificate).
    case certificateExpiresWithin(Duration)

    package var name: String {
        switch self {
        case .down: "down"
        case .backendDown: "backend-down"
        case .noHealthyBackends: "no-healthy-backends"
        case .rpsAbove: "rps-above"
        case .errorRateAbove: "error-rate-above"
        case .p99Above: "p99-above"
        case .instanceExited: "instance-exited"
        case .certificateExpiresWithin: "certificate-expires-within"
        }
    }
}

/// `alerts.rules[]`.
package struct AlertRule: Sendable, Equatable {
    package struct Escalation: Sendable, Equatable {
        package var after: Duration
        package var channels: [String]
        package init(after: Duration, channels: [String]) {
            self.after = after
            self.channels = channels
        }
    }

    package var name: String
    package var condition: AlertCondition
    /// How long the condition must hold before the incident fires (Prometheus' `for`).
    package var pendingFor: Duration = .zero
    /// How long a firing incident stays firing after the condition clears (against flapping).
    package var keepFiringFor: Duration = .zero
    package var channels: [String] = []
    package var escalate: Escalation?

    package init(name: String, condition: AlertCondition) {
        self.name = name
        self.condition = condition
    }
}

/// `alerts:`.
package struct AlertsConfig: Sendable, Equatable {
    package var rules: [AlertRule] = []
    /// Reminder interval while firing and not acknowledged; 0 pages once per incident.
    package var repeatInterval: Duration = .zero
    package var channels: [String: ChannelConfig] = [:]
    /// How long one delivery attempt may take (an HTTP request to Twilio, a webhook, a command).
    package var timeout: Duration = .seconds(10)
    /// Retries of a failed delivery: exponential backoff from `first`, capped at `max`, `attempts` in all.
    package var retryFirst: Duration = .seconds(1)
    package var retryMax: Duration = .seconds(300)
    package var retryAttempts: Int = 10
    /// The admin listener's address as Twilio reaches it (`https://tugboat.example.com`): where
    /// SMS replies (`ACK 12`) and the call's "press 1" land, and the URL their signatures cover.
    package var publicURL: String?
    /// One page per outage; nil (`group: off`) pages every incident on its own.
    package var group: GroupingSettings? = GroupingSettings()
    package var inhibit: [InhibitRule] = InhibitRule.defaults
    package var maintenance: [MaintenanceWindow] = []
    package var flapping = FlappingSettings()
    /// Nothing pages this soon after Tugboat starts (the pool's first checks are still running);
    /// an outage still there when it ends pages then.
    package var startupGrace: Duration = .seconds(30)

    package init() {}
}
