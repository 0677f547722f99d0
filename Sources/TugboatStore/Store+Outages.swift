import Foundation
import GRDB
import TugboatCore

// Outages (alert groups) and silences.
extension Store {
    /// Saves an outage, the incidents it changes and the notifications it causes, atomically.
    /// Returns the outage with its id (its acknowledgement code) and the notifications' outage set.
    @discardableResult
    public func save(outage: AlertGroupRecord, incidents: [IncidentRecord] = [],
                     notifications: (AlertGroupRecord) -> [NotificationRecord] = { _ in [] }) throws -> AlertGroupRecord {
        try database.write { db in
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
    }

    public func outage(id: Int64) throws -> AlertGroupRecord? {
        try database.read { db in try AlertGroupRecord.fetchOne(db, key: id) }
    }

    /// Newest first.
    public func outages(limit: Int = 200) throws -> [AlertGroupRecord] {
        try database.read { db in try AlertGroupRecord.order(Column("id").desc).limit(limit).fetchAll(db) }
    }

    public func openOutages() throws -> [AlertGroupRecord] {
        try database.read { db in try AlertGroupRecord.filter(Column("state") != IncidentState.resolved.rawValue).order(Column("id")).fetchAll(db) }
    }

    public func incidents(outage: Int64) throws -> [IncidentRecord] {
        try database.read { db in try IncidentRecord.filter(Column("alertGroup") == outage).order(Column("id")).fetchAll(db) }
    }

    // MARK: Silences

    public func insert(silence: SilenceRecord) throws -> SilenceRecord {
        try database.write { db in
            var silence = silence
            try silence.insert(db)
            return silence
        }
    }

    public func update(silence: SilenceRecord) throws {
        try database.write { db in try silence.update(db) }
    }

    public func silence(id: Int64) throws -> SilenceRecord? {
        try database.read { db in try SilenceRecord.fetchOne(db, key: id) }
    }

    /// Silences that have not ended by `now` (active or still to come), and the latest ended ones.
    public func silences(endedAfter cutoff: Date = .distantPast) throws -> [SilenceRecord] {
        try database.read { db in try SilenceRecord.filter(Column("endsAt") > cutoff).order(Column("id")).fetchAll(db) }
    }
}
