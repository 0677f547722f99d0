import TugboatCore

// Parsing of `monitors:` and `alerts:`.
extension ConfigLoader {
    package static func parseMonitors(_ value: YAMLValue) throws -> [MonitorConfig] {
        var monitors: [MonitorConfig] = []
        for item in try value.sequence() {
            let keys = try item.mapping(allowed: ["name", "url", "tcp", "interval", "timeout", "retries", "expect-status", "expect-body"])
            guard let nameValue = keys["name"] else { throw item.error("'\(item.key).name' is required") }
            let name = try nameValue.string()
            guard !monitors.contains(where: { $0.name == name }) else { throw nameValue.error("monitor '\(name)' is defined twice") }
            let target: MonitorConfig.Target
            switch (keys["url"], keys["tcp"]) {
            case (let url?, nil):
                let text = try url.string()
                guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                    throw url.error("'\(url.key)' must be an http:// or https:// URL, got '\(text)'")
                }
                target = .http(url: text,
                               expectStatus: try keys["expect-status"]?.int(range: 100...599),
                               expectBody: try keys["expect-body"]?.string())
            case (nil, let tcp?):
                target = .tcp(try tcp.hostPort())
            default:
                throw item.error("'\(item.key)' needs exactly one of 'url' (HTTP check) or 'tcp' (host:port)")
            }
            var monitor = MonitorConfig(name: name, target: target)
            if let interval = keys["interval"] { monitor.interval = try interval.duration() }
            if let timeout = keys["timeout"] { monitor.timeout = try timeout.duration() }
            if let retries = keys["retries"] { monitor.retries = try retries.int(range: 0...100) }
            monitors.append(monitor)
        }
        return monitors
    }

    package static func parseAlerts(_ value: YAMLValue, monitors: [MonitorConfig]) throws -> AlertsConfig {
        var alerts = AlertsConfig()
        let keys = try value.mapping(allowed: ["rules", "repeat", "channels", "timeout", "retry", "public-url",
                                                     "group", "inhibit", "maintenance", "flapping", "startup-grace"])
        try parsePaging(keys, into: &alerts)
        if let url = keys["public-url"] {
            let text = try url.string()
            guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                throw url.error("'\(url.key)' must be an http:// or https:// URL, got '\(text)'")
            }
            alerts.publicURL = text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        if let repeatValue = keys["repeat"] { alerts.repeatInterval = try repeatValue.duration(allowZero: true) }
        if let timeout = keys["timeout"] { alerts.timeout = try timeout.duration() }
        if let retry = keys["retry"] {
            let fields = try retry.mapping(allowed: ["first", "max", "attempts"])
            if let first = fields["first"] { alerts.retryFirst = try first.duration() }
            if let max = fields["max"] { alerts.retryMax = try max.duration() }
            if let attempts = fields["attempts"] { alerts.retryAttempts = try attempts.int(range: 1...100) }
            if alerts.retryMax < alerts.retryFirst { throw retry.error("'alerts.retry.max' must not be shorter than 'alerts.retry.first'") }
        }
        if let channels = keys["channels"] {
            for (name, channel) in try channels.orderedMapping() {
                alerts.channels[name] = try parseChannel(channel)
            }
        }
        if let rules = keys["rules"] {
            for item in try rules.sequence() {
                let rule = try parseRule(item, channels: alerts.channels, monitors: monitors)
                guard !alerts.rules.contains(where: { $0.name == rule.name }) else {
                    throw item.error("rule '\(rule.name)' is defined twice")
                }
                alerts.rules.append(rule)
            }
        }
        if let inhibit = keys["inhibit"] { alerts.inhibit = try parseInhibit(inhibit, rules: alerts.rules) }
        return alerts
    }

    package static func parseRule(_ item: YAMLValue, channels: [String: ChannelConfig], monitors: [MonitorConfig]) throws -> AlertRule {
        let keys = try item.mapping(allowed: ["name", "condition", "monitor", "threshold", "for", "keep-firing-for", "channels", "escalate"])
        guard let nameValue = keys["name"] else { throw item.error("'\(item.key).name' is required") }
        guard let conditionValue = keys["condition"] else { throw item.error("'\(item.key).condition' is required") }
        let name = try nameValue.string()
        let conditionName = try conditionValue.string()
        func threshold() throws -> YAMLValue {
            guard let threshold = keys["threshold"] else {
                throw conditionValue.error("rule '\(name)': condition \(conditionName) needs a 'threshold'")
            }
            return threshold
        }
        let condition: AlertCondition
        switch conditionName {
        case "down":
            guard let monitorValue = keys["monitor"] else { throw conditionValue.error("rule '\(name)': condition down needs a 'monitor'") }
            let monitor = try monitorValue.string()
            guard monitors.contains(where: { $0.name == monitor }) else {
                throw monitorValue.error("rule '\(name)': no monitor named '\(monitor)' (monitors: \(monitors.map(\.name).joined(separator: ", ")))")
            }
            condition = .down(monitor: monitor)
        case "backend-down": condition = .backendDown
        case "no-healthy-backends": condition = .noHealthyBackends
        case "rps-above":
            condition = .rpsAbove(try threshold().number(range: 0...1e9))
        case "error-rate-above":
            let value = try threshold()
            let text = try value.string()
            let fraction = text.hasSuffix("%") ? Double(text.dropLast()).map { $0 / 100 } : Double(text)
            guard let fraction, (0...1).contains(fraction) else {
                throw value.error("'\(value.key)' must be a share like 0.05 or 5%, got '\(text)'")
            }
            condition = .errorRateAbove(fraction)
        case "p99-above":
            condition = .p99Above(try threshold().duration())
        case "instance-exited": condition = .instanceExited
        case "certificate-expires-within":
            condition = .certificateExpiresWithin(try threshold().duration())
        default:
            throw conditionValue.error("rule '\(name)': unknown condition '\(conditionName)' (expected down, backend-down, no-healthy-backends, rps-above, error-rate-above, p99-above, instance-exited, certificate-expires-within)")
        }
        if let monitor = keys["monitor"], condition.name != "down" {
            throw monitor.error("rule '\(name)': 'monitor' only goes with condition down")
        }
        var rule = AlertRule(name: name, condition: condition)
        if let pending = keys["for"] { rule.pendingFor = try pending.duration(allowZero: true) }
        if let keep = keys["keep-firing-for"] {
            rule.keepFiringFor = try keep.duration(allowZero: true)
        } else if condition == .instanceExited {
            rule.keepFiringFor = .seconds(300)
        }
        if let list = keys["channels"] { rule.channels = try channelNames(list, known: channels, rule: name) }
        if let escalate = keys["escalate"] {
            let escalation = try escalate.mapping(allowed: ["after", "channels"])
            guard let after = escalation["after"], let list = escalation["channels"] else {
                throw escalate.error("'\(escalate.key)' needs 'after' and 'channels'")
            }
            rule.escalate = .init(after: try after.duration(), channels: try channelNames(list, known: channels, rule: name))
        }
        return rule
    }

    private static func channelNames(_ list: YAMLValue, known: [String: ChannelConfig], rule: String) throws -> [String] {
        try list.sequence().map { item in
            let name = try item.string()
            guard known[name] != nil else {
                throw item.error("rule '\(rule)': no channel named '\(name)' under alerts.channels (have: \(known.keys.sorted().joined(separator: ", ")))")
            }
            return name
        }
    }
}
