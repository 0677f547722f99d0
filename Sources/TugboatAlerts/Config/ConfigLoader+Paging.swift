import Foundation
import TugboatCore

// Parsing of what decides who is paged: `alerts.group`, `inhibit`, `maintenance`, `flapping`,
// `startup-grace`.
extension ConfigLoader {
    package static func parsePaging(_ keys: [String: YAMLValue], into alerts: inout AlertsConfig) throws {
        if let group = keys["group"] { alerts.group = try parseGrouping(group) }
        if let maintenance = keys["maintenance"] { alerts.maintenance = try parseMaintenance(maintenance) }
        if let grace = keys["startup-grace"] { alerts.startupGrace = try grace.duration(allowZero: true) }
        if let flapping = keys["flapping"] {
            let fields = try flapping.mapping(allowed: ["changes", "window"])
            if let changes = fields["changes"] { alerts.flapping.changes = try changes.int(range: 2...1000) }
            if let window = fields["window"] { alerts.flapping.window = try window.duration(allowZero: true) }
        }
    }

    package static func parseGrouping(_ value: YAMLValue) throws -> GroupingSettings? {
        if case .scalar = value.node {
            guard try value.string() == "off" else { throw value.error("'\(value.key)' must be off or a mapping like { by: [pool], wait: 10s, interval: 5m }") }
            return nil
        }
        var settings = GroupingSettings()
        let fields = try value.mapping(allowed: ["by", "wait", "interval", "notify-on-change"])
        if let by = fields["by"] {
            settings.by = try by.sequence().map { item in
                let label = try item.string()
                guard GroupingSettings.labels.contains(label) else {
                    throw item.error("'\(item.key)': unknown label '\(label)' (expected \(GroupingSettings.labels.joined(separator: ", ")))")
                }
                return label
            }
            guard !settings.by.isEmpty else { throw by.error("'\(by.key)' needs at least one label") }
        }
        if let wait = fields["wait"] { settings.wait = try wait.duration(allowZero: true) }
        if let interval = fields["interval"] { settings.interval = try interval.duration() }
        if let notify = fields["notify-on-change"] { settings.notifyOnChange = try notify.bool() }
        return settings
    }

    package static func parseInhibit(_ value: YAMLValue, rules: [AlertRule]) throws -> [InhibitRule] {
        let known = Set(rules.map(\.name) + ["down", "backend-down", "no-healthy-backends", "rps-above", "error-rate-above", "p99-above", "instance-exited", "certificate-expires-within"])
        func name(_ item: YAMLValue) throws -> String {
            let text = try item.string()
            guard known.contains(text) else { throw item.error("'\(item.key)': '\(text)' is neither a rule nor a condition") }
            return text
        }
        return try value.sequence().map { item in
            let fields = try item.mapping(allowed: ["source", "targets"])
            guard let source = fields["source"], let targets = fields["targets"] else {
                throw item.error("'\(item.key)' needs 'source' and 'targets'")
            }
            return InhibitRule(source: try name(source), targets: try targets.sequence().map(name))
        }
    }

    package static func parseMaintenance(_ value: YAMLValue) throws -> [MaintenanceWindow] {
        var windows: [(MaintenanceWindow, YAMLValue)] = []
        for item in try value.sequence() {
            let fields = try item.mapping(allowed: ["name", "cron", "duration", "starts", "ends", "time-zone"])
            guard let nameValue = fields["name"] else { throw item.error("'\(item.key).name' is required") }
            let name = try nameValue.string()
            guard !windows.contains(where: { $0.0.name == name }) else { throw nameValue.error("maintenance window '\(name)' is defined twice") }
            var timeZone = TimeZone(identifier: "UTC")!
            if let zone = fields["time-zone"] {
                let text = try zone.string()
                guard let parsed = TimeZone(identifier: text) else { throw zone.error("'\(zone.key)': unknown time zone '\(text)' (use an IANA name like Europe/Berlin)") }
                timeZone = parsed
            }
            let schedule: MaintenanceWindow.Schedule
            switch (fields["cron"], fields["starts"]) {
            case (let cron?, nil):
                guard let durationValue = fields["duration"] else { throw item.error("'\(item.key)': a cron window needs a 'duration'") }
                if let ends = fields["ends"] { throw ends.error("'\(ends.key)' goes with 'starts', not with 'cron'") }
                let expression: CronSchedule
                do { expression = try CronSchedule(parsing: try cron.string()) } catch { throw cron.error("'\(cron.key)': \(error)") }
                schedule = .cron(expression, duration: try durationValue.duration())
            case (nil, let startsValue?):
                guard let endsValue = fields["ends"] else { throw item.error("'\(item.key)': a one-off window needs 'starts' and 'ends'") }
                if let duration = fields["duration"] { throw duration.error("'\(duration.key)' goes with 'cron'; a one-off window has 'ends'") }
                let starts = try timestamp(startsValue, timeZone: timeZone)
                let ends = try timestamp(endsValue, timeZone: timeZone)
                guard starts < ends else { throw endsValue.error("'\(endsValue.key)' must be after 'starts' (the window is inverted)") }
                schedule = .once(starts: starts, ends: ends)
            default:
                throw item.error("'\(item.key)' needs exactly one of 'cron' (with 'duration') or 'starts' (with 'ends')")
            }
            let window = MaintenanceWindow(name: name, schedule: schedule, timeZone: timeZone)
            if let other = windows.first(where: { MaintenanceOverlap.overlap(window, $0.0) }) {
                throw item.error("maintenance window '\(name)' overlaps '\(other.0.name)'; merge them into one window")
            }
            if case .cron = schedule, MaintenanceOverlap.overlapsItself(window) {
                throw item.error("maintenance window '\(name)' lasts longer than the time between its openings")
            }
            windows.append((window, item))
        }
        return windows.map(\.0)
    }

    /// RFC 3339 (`2026-12-24T22:00:00+01:00`), or a local time `2026-12-24 22:00` in the window's zone.
    private static func timestamp(_ value: YAMLValue, timeZone: TimeZone) throws -> Date {
        let text = try value.string()
        if let date = try? Date(text, strategy: .iso8601) { return date }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = timeZone
        for format in ["yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return date }
        }
        throw value.error("'\(value.key)' must be a time like 2026-12-24T22:00:00Z or 2026-12-24 22:00, got '\(text)'")
    }
}

/// Whether two maintenance windows are ever open at once, over the coming year.
enum MaintenanceOverlap {
    package static let horizon: TimeInterval = 366 * 86_400

    package static func intervals(_ window: MaintenanceWindow, from start: Date) -> [ClosedRange<Date>] {
        switch window.schedule {
        case .once(let starts, let ends):
            return [starts...ends.addingTimeInterval(-0.001)]
        case .cron(let cron, let duration):
            return cron.matches(from: start, through: start.addingTimeInterval(horizon), timeZone: window.timeZone, limit: 20_000)
                .map { $0...$0.addingTimeInterval(duration.seconds - 0.001) }
        }
    }

    package static func overlap(_ a: MaintenanceWindow, _ b: MaintenanceWindow) -> Bool {
        let now = Date()
        let first = intervals(a, from: now), second = intervals(b, from: now)
        return first.contains { x in second.contains { $0.overlaps(x) } }
    }

    package static func overlapsItself(_ window: MaintenanceWindow) -> Bool {
        let list = intervals(window, from: Date())
        return zip(list, list.dropFirst()).contains { $0.overlaps($1) }
    }
}
