import Foundation
import TugboatCore

/// A firing incident as the ``OutageGrouper`` sees it: its labels, what it says, whom its rule pages.
package struct OutageMember: Sendable, Equatable {
    package var incident: Int64
    package var rule: String
    /// The rule's condition name (`backend-down`, `down`, ...): inhibition and the page's wording use it.
    package var condition: String
    package var target: String
    package var pool: String
    package var detail: String
    package var channels: [String]
    package var escalation: AlertRule.Escalation?

    package init(incident: Int64, rule: String, condition: String, target: String, pool: String, detail: String,
                channels: [String], escalation: AlertRule.Escalation? = nil) {
        self.incident = incident
        self.rule = rule
        self.condition = condition
        self.target = target
        self.pool = pool
        self.detail = detail
        self.channels = channels
        self.escalation = escalation
    }

    package func label(_ name: String) -> String? {
        switch name {
        case "pool": pool
        case "rule": rule
        case "target": target
        default: nil
        }
    }

    /// Whether an inhibit rule's name (a rule's name or a condition) means this incident.
    func isNamed(_ name: String) -> Bool { name == rule || name == condition }
}

/// A silence (`POST /api/silences`) or an open maintenance window: matching incidents page nobody.
package struct Silence: Sendable, Equatable {
    /// `silence 4` or `maintenance weekly`: what the history says silenced a page.
    package var name: String
    /// Label → value (`rule`, `target`, `pool`); every one must match. Empty matches everything.
    package var matchers: [String: String]
    package var starts: Date
    package var ends: Date

    package init(name: String, matchers: [String: String], starts: Date, ends: Date) {
        self.name = name
        self.matchers = matchers
        self.starts = starts
        self.ends = ends
    }

    package func isActive(at date: Date) -> Bool { starts <= date && date < ends }

    package func matches(_ member: OutageMember) -> Bool {
        matchers.allSatisfy { member.label($0.key) == $0.value }
    }
}
