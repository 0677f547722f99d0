import Foundation
import TugboatAlerts
import TugboatCluster
import TugboatStore

/// Several nodes page once: only the leader sends, after claiming the page in Redis
/// (`SET tugboat:page:<rule|target|fired-at>:<channel>:<kind> NX`). The fired-at of an episode is
/// the one in the open-incidents mirror, written by the leader that paged first, so a new leader
/// computes the same key and does not page an incident again.
///
/// - A follower keeps its notifications pending for `takeoverGrace` (the leader may die before
///   paging; then the new leader, which has the same pending notifications, pages), then leaves
///   them to the leader.
/// - While Redis is unreachable every node pages what it sees itself: a page may then come twice,
///   but none is lost.
struct ClusterPageGate: PageGate {
    let node: ClusterNode
    var takeoverGrace: TimeInterval = 30

    func claim(_ notification: NotificationRecord, incident: IncidentRecord) async -> PageClaim {
        guard node.redisIsUp else { return .send }
        guard node.isLeader else {
            if Date().timeIntervalSince(notification.createdAt) > takeoverGrace { return .sentElsewhere }
            return .deferred("waiting for the leader (\(node.leader ?? "none yet")) to page")
        }
        let epoch = node.epoch
        do {
            let open = try await node.openIncidents()[OpenIncidentID(rule: incident.rule, target: incident.target)]
            let firedAt = open?.firedAt ?? incident.firedAt ?? incident.startedAt
            if open == nil, notification.kind != .resolve {
                try await node.recordIncident(rule: incident.rule, target: incident.target,
                                              OpenIncident(state: incident.state, firedAt: firedAt, node: node.nodeID), epoch: epoch)
            }
            let key = IncidentKey(rule: incident.rule, target: incident.target, firedAt: firedAt)
            let channel = notification.recipient.map { "\(notification.channel):\($0)" } ?? notification.channel
            let kind = notification.kind == .repeat
                ? "repeat-\(Int(notification.createdAt.timeIntervalSince(firedAt) / 60))"  // one per minute bucket
                : notification.kind.rawValue
            let claimed = try await node.claimPage(key, channel: channel, kind: kind)
            if notification.kind == .resolve {
                try? await node.resolveIncident(rule: incident.rule, target: incident.target, epoch: epoch)
            }
            return claimed ? .send : .sentElsewhere
        } catch {
            return .deferred("cannot claim the page in Redis: \(error)")
        }
    }
}
