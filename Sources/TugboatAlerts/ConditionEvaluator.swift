import TugboatCore

/// Turns signals into observations of rule conditions: for each rule and target, whether the
/// condition holds now. Pure and synchronous; the ``AlertManager`` feeds it and acts on the result.
package struct ConditionEvaluator: Sendable {
    package struct Observation: Equatable, Sendable {
        package var rule: String
        package var target: String
        package var active: Bool
        /// What is wrong, in words, for the page.
        package var detail: String
    }

    private var rules: [AlertRule]
    private var backends: [HostPort: BackendState] = [:]
    private var lastPoolVerdict = false
    /// Each monitor's last report, so that a rule added by a reload sees a monitor already down.
    private var monitors: [String: (up: Bool, reason: String)] = [:]

    package init(rules: [AlertRule]) {
        self.rules = rules
    }

    package mutating func evaluate(_ signal: Signal) -> [Observation] {
        switch signal {
        case .monitorChanged(let name, let up, let reason):
            monitors[name] = (up, reason)
            return monitorObservations(name, up: up, reason: reason)
        case .backendAdded(let address):
            backends[address] = .starting
            return poolObservations()
        case .backendRemoved(let address):
            backends[address] = nil
            return backendObservations(address, active: false, detail: "backend \(address) left the pool") + poolObservations()
        case .backendStateChanged(let address, _, let to, let reason):
            backends[address] = to
            let down = to == .unhealthy
            return backendObservations(address, active: down, detail: "backend \(address) is \(to.rawValue): \(reason)")
                + poolObservations()
        case .traffic(let sample):
            return trafficObservations(sample)
        case .instanceExited(let address, let status):
            // An event: it fires (after `for`) and resolves once `keep-firing-for` passes without another.
            return rules.filter { $0.condition == .instanceExited }.flatMap { rule in
                [Observation(rule: rule.name, target: address.description, active: true,
                             detail: "instance \(address) exited on its own (\(status))"),
                 Observation(rule: rule.name, target: address.description, active: false,
                             detail: "no further exit of instance \(address)")]
            }
        case .certificateChecked(let name, let left):
            return rules.compactMap { rule in
                guard case .certificateExpiresWithin(let threshold) = rule.condition else { return nil }
                let days = Self.format(left.seconds / 86_400)
                let detail = left <= .zero ? "certificate \(name) has expired" : "certificate \(name) expires in \(days) days"
                return Observation(rule: rule.name, target: name, active: left < threshold,
                                   detail: left < threshold ? detail : "certificate \(name) is valid for \(days) more days")
            }
        case .passiveFailures, .scalingTransition:
            return []
        }
    }

    /// A reload replaced the rules: from now on these are judged, and this is what holds now for
    /// the conditions that are states (monitors, backends, the pool), so that a rule added while
    /// something is already down sees it. Rates and certificates are judged at their next report.
    package mutating func replaceRules(_ rules: [AlertRule]) -> [Observation] {
        self.rules = rules
        let monitorStates = monitors.keys.sorted().flatMap { name in
            monitorObservations(name, up: monitors[name]!.up, reason: monitors[name]!.reason)
        }
        let backendStates = backends.keys.sorted().flatMap { address in
            let state = backends[address]!
            return backendObservations(address, active: state == .unhealthy, detail: "backend \(address) is \(state.rawValue)")
        }
        return monitorStates + backendStates + poolVerdictObservations()
    }

    private func monitorObservations(_ name: String, up: Bool, reason: String) -> [Observation] {
        rules.compactMap { rule in
            guard case .down(let monitor) = rule.condition, monitor == name else { return nil }
            return Observation(rule: rule.name, target: name, active: !up,
                               detail: up ? "monitor \(name) is up" : "monitor \(name) is down (\(reason))")
        }
    }

    private func backendObservations(_ address: HostPort, active: Bool, detail: String) -> [Observation] {
        rules.filter { $0.condition == .backendDown }.map {
            Observation(rule: $0.name, target: address.description, active: active, detail: detail)
        }
    }

    /// No healthy backend, and none still starting: the whole pool is down.
    private mutating func poolObservations() -> [Observation] {
        let down = !backends.isEmpty && !backends.values.contains { $0 == .healthy || $0 == .starting }
        guard down != lastPoolVerdict else { return [] }
        lastPoolVerdict = down
        return poolVerdictObservations()
    }

    private func poolVerdictObservations() -> [Observation] {
        rules.filter { $0.condition == .noHealthyBackends }.map {
            Observation(rule: $0.name, target: "pool", active: lastPoolVerdict,
                        detail: lastPoolVerdict ? "no healthy backend among \(backends.count)" : "healthy backends are back")
        }
    }

    private func trafficObservations(_ sample: TrafficSample) -> [Observation] {
        rules.compactMap { rule in
            switch rule.condition {
            case .rpsAbove(let threshold):
                let rate = sample.rate
                return Observation(rule: rule.name, target: "pool", active: rate > threshold,
                                   detail: "request rate \(Self.format(rate))/s (threshold \(Self.format(threshold))/s)")
            case .errorRateAbove(let threshold):
                guard sample.requests > 0 else { return Observation(rule: rule.name, target: "pool", active: false, detail: "no traffic") }
                let share = Double(sample.serverErrors) / Double(sample.requests)
                return Observation(rule: rule.name, target: "pool", active: share > threshold,
                                   detail: "5xx share \(Self.format(share * 100))% (threshold \(Self.format(threshold * 100))%)")
            case .p99Above(let threshold):
                guard sample.requests > 0 else { return Observation(rule: rule.name, target: "pool", active: false, detail: "no traffic") }
                return Observation(rule: rule.name, target: "pool", active: sample.p99Seconds > threshold.seconds,
                                   detail: "p99 latency \(Self.format(sample.p99Seconds * 1000)) ms (threshold \(Self.format(threshold.seconds * 1000)) ms)")
            default:
                return nil
            }
        }
    }

    static func format(_ value: Double) -> String {
        value >= 100 || value == value.rounded() ? String(Int(value.rounded())) : String(format1(value))
    }

    private static func format1(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        return "\(tenths)"
    }
}
