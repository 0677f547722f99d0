import Foundation
import GRDB
import TugboatCore

// Pending conditions (restored after a restart) and the pruning of old history (`retention`).
extension Store {
    /// A rule's condition that holds for a target and has not yet held for the rule's `for`.
    package struct PendingCondition: Sendable, Equatable {
        package var rule: String
        package var target: String
        package var since: Date
        package var detail: String

        package init(rule: String, target: String, since: Date, detail: String) {
            self.rule = rule
            self.target = target
            self.since = since
            self.detail = detail
        }
    }

    package func savePending(_ pending: PendingCondition) async throws {
        try await database.write { db in try StoreQueries.savePending(pending, db) }
    }

    package func clearPending(rule: String, target: String) async throws {
        try await database.write { db in try StoreQueries.clearPending(rule: rule, target: target, db) }
    }

    package func pendingConditions() async throws -> [PendingCondition] {
        try await database.read { db in try StoreQueries.pendingConditions(db) }
    }

    /// What ``prune(before:)`` deleted.
    package struct Pruned: Sendable, Equatable {
        package var incidents = 0
        package var notifications = 0
        package var outages = 0
        package var profiles = 0
        package var scalingEvents = 0
        package var silences = 0

        package var total: Int { incidents + notifications + outages + profiles + scalingEvents + silences }
    }

    /// Deletes history that ended before `cutoff` (`retention` ago): resolved incidents and outages,
    /// their delivered or failed notifications, flame graphs, scaling events, ended silences.
    /// Nothing open is touched, nor a notification still waiting to be delivered.
    @discardableResult
    package func prune(before cutoff: Date) async throws -> Pruned {
        try await database.write { db in
            var pruned = Pruned()
            let oldIncidents = "SELECT id FROM incident WHERE state = '\(IncidentState.resolved)' AND resolvedAt < ?"
            try db.execute(sql: "DELETE FROM notification WHERE status != '\(NotificationStatus.pending)' AND incident IN (\(oldIncidents))", arguments: [cutoff])
            pruned.notifications = db.changesCount
            try db.execute(sql: "DELETE FROM incident WHERE id IN (\(oldIncidents)) AND id NOT IN (SELECT incident FROM notification)",
                           arguments: [cutoff])
            pruned.incidents = db.changesCount
            try db.execute(sql: """
                DELETE FROM alertGroup WHERE state = '\(IncidentState.resolved)' AND resolvedAt < ?
                AND id NOT IN (SELECT alertGroup FROM incident WHERE alertGroup IS NOT NULL)
                AND id NOT IN (SELECT alertGroup FROM notification WHERE alertGroup IS NOT NULL)
                """, arguments: [cutoff])
            pruned.outages = db.changesCount
            try db.execute(sql: "DELETE FROM profile WHERE capturedAt < ?", arguments: [cutoff])
            pruned.profiles = db.changesCount
            try db.execute(sql: "DELETE FROM scalingEvent WHERE at < ?", arguments: [cutoff])
            pruned.scalingEvents = db.changesCount
            try db.execute(sql: "DELETE FROM silence WHERE endsAt < ?", arguments: [cutoff])
            pruned.silences = db.changesCount
            return pruned
        }
    }
}
