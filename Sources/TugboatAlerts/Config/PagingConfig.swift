import Foundation
import TugboatCore

/// `alerts.group`: incidents with the same labels that start within `wait` of each other are one
/// outage and make one page (Alertmanager's `group_by`, `group_wait`, `group_interval`).
package struct GroupingSettings: Sendable, Equatable {
    /// Labels that make two incidents one outage: any of `pool`, `rule`, `target`.
    package var by: [String] = ["pool"]
    /// How long a new outage waits for the rest of its incidents before paging.
    package var wait: Duration = .seconds(10)
    /// The shortest time between two updates of an outage already paged (`notify-on-change`).
    package var interval: Duration = .seconds(300)
    /// Text channels hear of incidents joining or leaving an outage already paged (never a call).
    package var notifyOnChange = false

    package init() {}

    package static let labels = ["pool", "rule", "target"]
}

/// `alerts.inhibit[]`: while an incident of `source` fires, incidents of `targets` in the same
/// pool page nobody (they are a consequence). Each name is a rule's name or its condition.
package struct InhibitRule: Sendable, Equatable {
    package var source: String
    package var targets: [String]

    package init(source: String, targets: [String]) {
        self.source = source
        self.targets = targets
    }

    /// No healthy backend makes each backend's own incident noise; a front that is down (a `down`
    /// monitor) explains everything the pool reports.
    package static let defaults = [
        InhibitRule(source: "no-healthy-backends", targets: ["backend-down"]),
        InhibitRule(source: "down", targets: ["backend-down", "no-healthy-backends", "error-rate-above", "p99-above", "rps-above"]),
    ]
}

/// `alerts.maintenance[]`: while a window is open incidents are recorded but nobody is paged.
package struct MaintenanceWindow: Sendable, Equatable {
    package enum Schedule: Sendable, Equatable {
        /// Opens at every match of the cron expression, in `timeZone`, for `duration`.
        case cron(CronSchedule, duration: Duration)
        /// Opens once.
        case once(starts: Date, ends: Date)
    }

    package var name: String
    package var schedule: Schedule
    package var timeZone: TimeZone

    package init(name: String, schedule: Schedule, timeZone: TimeZone) {
        self.name = name
        self.schedule = schedule
        self.timeZone = timeZone
    }

    /// Whether the window is open at `date`.
    package func isOpen(at date: Date) -> Bool {
        switch schedule {
        case .once(let starts, let ends):
            return starts <= date && date < ends
        case .cron(let cron, let duration):
            return cron.lastMatch(atOrBefore: date, within: duration, timeZone: timeZone) != nil
        }
    }
}

/// `alerts.flapping`: a target whose incident changes state `changes` times within `window` is
/// flapping: it stays open (one page) until it has been quiet for the whole window.
package struct FlappingSettings: Sendable, Equatable {
    package var changes: Int = 3
    package var window: Duration = .seconds(600)

    package init() {}
}
