import Foundation
import GRDB
import TugboatCore

// Outages (alert groups) and silences.
extension Store {
    /// Saves an outage, the incidents it changes and the notifications it causes, atomically.
    /// Returns the outage with its id (its acknowledgement code) and the notifications' outage set.
    @discardableResult
    package func save(outage: AlertGroupRecord, incidents: [IncidentRecord] = [],
                     notifications: @escaping @Sendable (AlertGroupRecord) -> [NotificationRecord] = { _ in [] }) async throws -> AlertGroupRecord {
        try await database.write { db in try StoreQueries.save(outage: outage, incidents: incidents, notifications: notifications, db) }
    }

    package func outage(id: Int64) async throws -> AlertGroupRecord? {
        try await database.read { db in try StoreQueries.outage(id: id, db) }
    }

    /// Newest first.
    package func outages(limit: Int = 200) async throws -> [AlertGroupRecord] {
        try await database.read { db in try AlertGroupRecord.order(Column("id").desc).limit(limit).fetchAll(db) }
    }

    package func openOutages() async throws -> [AlertGroupRecord] {
        try await database.read { db in try StoreQueries.openOutages(db) }
    }

    package func incidents(outage: Int64) async throws -> [IncidentRecord] {
        try await database.read { db in try StoreQueries.incidents(outage: outage, db) }
    }

    // MARK: Silences

    package func insert(silence: SilenceRecord) async throws -> SilenceRecord {
        try await database.write { db in
            var silence = silence
            try silence.insert(db)
            return silence
        }
    }

    package func update(silence: SilenceRecord) async throws {
        try await database.write { [silence] db in try silence.update(db) }
    }

    package func silence(id: Int64) async throws -> SilenceRecord? {
        try await database.read { db in try SilenceRecord.fetchOne(db, key: id) }
    }

    /// Silences that have not ended by `now` (active or still to come), and the latest ended ones.
    package func silences(endedAfter cutoff: Date = .distantPast) async throws -> [SilenceRecord] {
        try await database.read { db in try SilenceRecord.filter(Column("endsAt") > cutoff).order(Column("id")).fetchAll(db) }
    }
}
