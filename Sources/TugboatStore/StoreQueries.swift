import Foundation
import GRDB
import TugboatCore

/// The statements both ``Store`` (async, on GRDB's queues) and ``BlockingStore`` (on the
/// ``StoreThread``) run: written once, run either way.
enum StoreQueries {
    static func save(_ incident: IncidentRecord, notifications: [NotificationRecord], _ db: Database) throws -> IncidentRecord {
        var incident = incident
        try incident.save(db)
        for var notification in notifications {
            notification.incident = incident.id!
            try notification.insert(db)
        }
        return incident
    }

    static func incident(id: Int64, _ db: Database) throws -> IncidentRecord? {
        try IncidentRecord.fetchOne(db, key: id)
    }

    static func openIncidents(_ db: Database) throws -> [IncidentRecord] {
        try IncidentRecord.filter(Column("state") != IncidentState.resolved.rawValue).order(Column("id")).fetchAll(db)
    }

    static func notifications(incident: Int64?, limit: Int, _ db: Database) throws -> [NotificationRecord] {
        var request = NotificationRecord.order(Column("id").desc).limit(limit)
        if let incident { request = request.filter(Column("incident") == incident) }
        return try request.fetchAll(db)
    }

    static func save(outage: AlertGroupRecord, incidents: [IncidentRecord],
                     notifications: (AlertGroupRecord) -> [NotificationRecord], _ db: Database) throws -> AlertGroupRecord {
        var outage = outage
        try outage.save(db)
        for var incident in incidents {
            incident.alertGroup = outage.id
            try incident.save(db)
        }
        for var notification in notifications(outage) {
            notification.alertGroup = outage.id
            try notification.insert(db)
        }
        return outage
    }

    static func outage(id: Int64, _ db: Database) throws -> AlertGroupRecord? {
        try AlertGroupRecord.fetchOne(db, key: id)
    }

    static func openOutages(_ db: Database) throws -> [AlertGroupRecord] {
        try AlertGroupRecord.filter(Column("state") != IncidentState.resolved.rawValue).order(Column("id")).fetchAll(db)
    }

    static func incidents(outage: Int64, _ db: Database) throws -> [IncidentRecord] {
        try IncidentRecord.filter(Column("alertGroup") == outage).order(Column("id")).fetchAll(db)
    }

    static func savePending(_ pending: Store.PendingCondition, _ db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO pendingCondition (rule, target, since, detail) VALUES (?, ?, ?, ?)",
                       arguments: [pending.rule, pending.target, pending.since, pending.detail])
    }

    static func clearPending(rule: String, target: String, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM pendingCondition WHERE rule = ? AND target = ?", arguments: [rule, target])
    }

    static func pendingConditions(_ db: Database) throws -> [Store.PendingCondition] {
        try Row.fetchAll(db, sql: "SELECT * FROM pendingCondition ORDER BY since").map {
            Store.PendingCondition(rule: $0["rule"], target: $0["target"], since: $0["since"], detail: $0["detail"])
        }
    }
}
