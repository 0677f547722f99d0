import TugboatCore
import TugboatRedis

extension ClusterNode {
    /// Claims one page before sending it: `SET tugboat:page:<incident>:<channel>:<kind> <node> NX PX <ttl>`.
    /// True for exactly one caller in the whole cluster (send the page); false when another
    /// node (or this one) already claimed it (do not send). Throws `.redisUnavailable` when Redis
    /// is down: the pager decides (e.g. retry later).
    package func claimPage(_ incident: IncidentKey, channel: String, kind: String, ttl: Duration = .seconds(7 * 24 * 3600)) async throws(ClusterError) -> Bool {
        let key = ClusterKeys.page(incident, channel: channel, kind: kind)
        do {
            let reply = try await self.client.send(["SET", key, self.nodeID, "NX", "PX", "\(ttl.milliseconds)"])
            return !reply.isNull
        } catch {
            throw ClusterError(error)
        }
    }

    /// The leader mirrors an incident that fired (or changed state) into
    /// `tugboat:<pool>:incidents`. Pass the leader's `epoch`: refused with `.staleEpoch` after
    /// another node was elected.
    package func recordIncident(rule: String, target: String, _ incident: OpenIncident, epoch: UInt64?) async throws(ClusterError) {
        let field = IncidentKey(rule: rule, target: target, firedAt: incident.firedAt).openIncidentField
        _ = try await self.eval(
            ClusterScripts.incident, keys: [self.keys.incidents, self.keys.epoch],
            args: [epoch.map { "\($0)" } ?? "", field, ClusterJSON.encode(incident)]
        )
    }

    /// The leader removes a resolved incident from the mirror. Same `epoch` rule.
    package func resolveIncident(rule: String, target: String, epoch: UInt64?) async throws(ClusterError) {
        _ = try await self.eval(
            ClusterScripts.incident, keys: [self.keys.incidents, self.keys.epoch],
            args: [epoch.map { "\($0)" } ?? "", "\(rule)|\(target)", ""]
        )
    }

    /// The open incidents as the previous leaders left them, by `rule` and `target` (the field
    /// is split at its first `|`). A newly elected leader reads this and continues these
    /// incidents (their `IncidentKey`s are already claimed) instead of paging them again.
    package func openIncidents() async throws(ClusterError) -> [OpenIncidentID: OpenIncident] {
        let reply: RESPValue
        do {
            reply = try await self.client.send(["HGETALL", self.keys.incidents])
        } catch {
            throw ClusterError(error)
        }
        guard let pairs = reply.pairs else { throw .invalidReply("HGETALL returned \(reply)") }
        var incidents: [OpenIncidentID: OpenIncident] = [:]
        for pair in pairs {
            guard let field = pair.key.string, let bar = field.firstIndex(of: "|"), let json = pair.value.string else {
                self.logger.warning("ignoring an unreadable open incident", metadata: ["cluster.field": "\(pair.key)"])
                continue
            }
            let incident: OpenIncident
            do {
                incident = try ClusterJSON.decoding(OpenIncident.self, from: json)
            } catch {
                self.logger.warning("ignoring an unreadable open incident", metadata: ["cluster.field": "\(field)", "error": "\(error)"])
                continue
            }
            let id = OpenIncidentID(rule: String(field[..<bar]), target: String(field[field.index(after: bar)...]))
            incidents[id] = incident
        }
        return incidents
    }
}

/// The rule and target of an open incident (field `rule|target` of `tugboat:<pool>:incidents`).
package struct OpenIncidentID: Sendable, Hashable {
    package var rule: String
    package var target: String

    package init(rule: String, target: String) {
        self.rule = rule
        self.target = target
    }
}
