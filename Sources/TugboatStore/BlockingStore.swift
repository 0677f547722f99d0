import Foundation
import GRDB

extension Store {
    /// The store's blocking calls, for code that runs on the ``StoreThread`` (the alert manager):
    /// they hold the calling thread until SQLite answers, which must never be one of the
    /// cooperative pool's few threads.
    package var blocking: BlockingStore {
        assert(StoreThread.shared.isCurrent, "the store's blocking calls are for the store thread, not the cooperative pool")
        return BlockingStore(database: database)
    }
}

/// What the alert manager reads and writes while it decides, without a suspension point: an
/// incident's transition, its outage and its pages are decided and written as one step, so no
/// other call into the manager can see or change its state half way. Only for callers isolated to
/// the ``StoreThread``; everything else uses ``Store``'s async API.
package struct BlockingStore: Sendable {
    let database: any DatabaseWriter

    /// Saves an incident (inserting it when new) together with the notifications it causes, atomically.
    @discardableResult
    package func save(_ incident: IncidentRecord, notifications: [NotificationRecord] = []) throws -> IncidentRecord {
        try database.write { db in try StoreQueries.save(incident, notifications: notifications, db) }
    }

    package func incident(id: Int64) throws -> IncidentRecord? {
        try database.read { db in try StoreQueries.incident(id: id, db) }
    }

    package func openIncidents() throws -> [IncidentRecord] {
        try database.read { db in try StoreQueries.openIncidents(db) }
    }

    package func notifications(incident: Int64? = nil, limit: Int = 500) throws -> [NotificationRecord] {
        try database.read { db in try StoreQueries.notifications(incident: incident, limit: limit, db) }
    }

    /// Saves an outage, the incidents it changes and the notifications it causes, atomically.
    @discardableResult
    package func save(outage: AlertGroupRecord, incidents: [IncidentRecord] = [],
                     notifications: (AlertGroupRecord) -> [NotificationRecord] = { _ in [] }) throws -> AlertGroupRecord {
        try database.write { db in try StoreQueries.save(outage: outage, incidents: incidents, notifications: notifications, db) }
    }

    package func outage(id: Int64) throws -> AlertGroupRecord? {
        try database.read { db in try StoreQueries.outage(id: id, db) }
    }

    package func openOutages() throws -> [AlertGroupRecord] {
        try database.read { db in try StoreQueries.openOutages(db) }
    }

    package func incidents(outage: Int64) throws -> [IncidentRecord] {
        try database.read { db in try StoreQueries.incidents(outage: outage, db) }
    }

    package func savePending(_ pending: Store.PendingCondition) throws {
        try database.write { db in try StoreQueries.savePending(pending, db) }
    }

    package func clearPending(rule: String, target: String) throws {
        try database.write { db in try StoreQueries.clearPending(rule: rule, target: target, db) }
    }

    package func pendingConditions() throws -> [Store.PendingCondition] {
        try database.read { db in try StoreQueries.pendingConditions(db) }
    }
}
