import Foundation
import TugboatCore

/// A cluster-wide name of one incident episode, `<rule>|<target>|<fired_at>` (fired_at in ISO
/// 8601 with milliseconds, UTC). Incidents live per node in SQLite; this key is what every node
/// agrees on, so a page claimed under it is sent once by the whole cluster.
package struct IncidentKey: Sendable, Hashable, CustomStringConvertible {
    package var rule: String
    /// The rule's target (monitor name, backend address, or empty for pool-wide rules).
    package var target: String
    /// When this episode fired, cut to whole milliseconds (what the incidents mirror keeps).
    package var firedAt: Date

    package init(rule: String, target: String, firedAt: Date) {
        self.rule = rule
        self.target = target
        self.firedAt = ClusterTime.milliseconds(firedAt)
    }

    /// `rule|target`: the field of `tugboat:<pool>:incidents`.
    package var openIncidentField: String { "\(self.rule)|\(self.target)" }

    package var description: String { "\(self.rule)|\(self.target)|\(ClusterTime.format(self.firedAt, milliseconds: true))" }
}

/// An open incident as the leader mirrors it into `tugboat:<pool>:incidents` (JSON
/// `{"state":"firing","fired_at":"2025-01-31T12:00:00.123Z","node":"host-1234"}`), so that a
/// newly elected leader continues it instead of paging it again.
package struct OpenIncident: Sendable, Hashable, Codable {
    /// The incident's state (`firing`, `acknowledged`, …).
    package var state: IncidentState
    /// When the episode fired; with rule and target it makes the `IncidentKey`.
    package var firedAt: Date
    /// The node (leader) that wrote it.
    package var node: String

    package init(state: IncidentState, firedAt: Date, node: String) {
        self.state = state
        self.firedAt = ClusterTime.milliseconds(firedAt)
        self.node = node
    }

    enum CodingKeys: String, CodingKey {
        case state
        case firedAt = "fired_at"
        case node
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.state = try container.decode(IncidentState.self, forKey: .state)
        let firedAt = try container.decode(String.self, forKey: .firedAt)
        guard let date = ClusterTime.parse(firedAt) else {
            throw DecodingError.dataCorruptedError(forKey: .firedAt, in: container, debugDescription: "not an ISO 8601 time: \(firedAt)")
        }
        self.firedAt = ClusterTime.milliseconds(date)
        self.node = try container.decode(String.self, forKey: .node)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.state, forKey: .state)
        try container.encode(ClusterTime.format(self.firedAt, milliseconds: true), forKey: .firedAt)
        try container.encode(self.node, forKey: .node)
    }

    /// The page-claim key of this incident under `rule` and `target`.
    package func key(rule: String, target: String) -> IncidentKey {
        IncidentKey(rule: rule, target: target, firedAt: self.firedAt)
    }
}
