import Foundation
import Logging
import TugboatCore
import TugboatStore

// A config reload's new `alerts` section, taken in while incidents are open.
extension AlertManager {
    /// Takes a reloaded `alerts` section, as Prometheus and Alertmanager do on reload:
    /// - a rule that keeps its name and what it watches (its condition, and the monitor of `down`)
    ///   keeps its open incidents as they are — a firing one does not page again, a pending one keeps
    ///   its start — and its new `for`, `keep-firing-for`, threshold, channels and escalation apply
    ///   to them from now on;
    /// - an incident of a rule that is gone (or now watches something else) resolves at once, with
    ///   the usual resolved notice to those of its text channels that still exist;
    /// - a new rule is judged at once against what is known now (backends down, monitors down, the
    ///   pool), and against the next traffic sample or certificate check;
    /// - grouping, inhibition, reminders, maintenance windows, flapping and the start-up grace
    ///   (counted from the start) apply from the next decision; outages already open keep their group.
    package func replace(config new: AlertsConfig) {
        let old = rules
        config = new
        rules = Dictionary(uniqueKeysWithValues: new.rules.map { ($0.name, $0) })
        flaps.settings = new.flapping
        grouper.settings = Self.grouperSettings(new, startedAt: startedAt)
        grouper.replaceRules(rules)
        for key in tracked.keys.sorted(by: { ($0.rule, $0.target) < ($1.rule, $1.target) }) {
            guard let oldRule = old[key.rule] else { continue }
            if let rule = rules[key.rule], Self.watchesTheSame(oldRule, rule) {
                tracked[key]?.machine.replacePolicy(.init(rule: rule))
            } else {
                let detail = rules[key.rule] == nil ? Self.goneDetail(oldRule.name) : "rule \(oldRule.name) now watches something else"
                retire(key, rule: oldRule, detail: detail)
            }
        }
        let current = evaluator.replaceRules(new.rules)
        observe(current)
        logger.info("alert rules replaced", metadata: ["rules": "\(new.rules.map(\.name).joined(separator: ","))",
                                                       "incidents.open": "\(tracked.count)"])
        tick()
    }

    /// Whether a rule edited by a reload still watches the same targets (its open incidents carry on).
    static func watchesTheSame(_ old: AlertRule, _ new: AlertRule) -> Bool {
        switch (old.condition, new.condition) {
        case (.down(let before), .down(let after)): before == after
        default: old.condition.name == new.condition.name
        }
    }

    static func goneDetail(_ rule: String) -> String { "rule \(rule) was removed from the config" }

    /// The rule of `key` is gone: a firing incident resolves now, a pending one is forgotten
    /// (it never paged, nor was it stored).
    func retire(_ key: Key, rule: AlertRule, detail: String) {
        guard let entry = tracked[key] else { return }
        if entry.machine.isFiring, entry.record != nil {
            incident(.resolve, key: key, rule: rule, resolvedDetail: detail)
        }
        tracked[key] = nil
    }

    /// The channels still configured that an outage's pages went to.
    func pagedChannels(outage: Int64) -> [String] {
        let incidents = (try? store.blocking.incidents(outage: outage)) ?? []
        let channels = incidents.compactMap(\.id).flatMap { (try? store.blocking.notifications(incident: $0)) ?? [] }.map(\.channel)
        var seen = Set<String>()
        return channels.filter { config.channels[$0] != nil && seen.insert($0).inserted }
    }

    /// An incident left open by a previous run whose rule is gone and that belongs to no open
    /// outage: nobody is told (nothing open pages about it), the history says resolved.
    func resolveUntracked(_ record: IncidentRecord, detail: String) {
        var record = record
        record.state = .resolved
        record.resolvedAt = clock.date
        do {
            record = try store.blocking.save(record)
            logger.info("incident resolved", metadata: ["incident.id": "\(record.id ?? 0)", "rule": "\(record.rule)", "reason": "\(detail)"])
        } catch {
            logger.error("incident could not be saved", metadata: ["incident.id": "\(record.id ?? 0)", "error": "\(error)"])
        }
    }
}
