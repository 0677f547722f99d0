import Foundation
import GRDB
import TugboatCore

/// The embedded store (SQLite through GRDB): incidents and the notification outbox, run-time pool
/// changes, scaling events and captured flame graphs.
/// Every write is a transaction; the store is safe to use from any task.
///
/// A file is opened as a `DatabasePool`: write-ahead log (WAL), so reads (the admin API, the
/// outbox's scans) run on their own connections beside the one writer instead of queueing behind
/// it, and `synchronous=FULL`: a commit is on disk before it returns, so a page written to the
/// outbox survives a power cut too. Tugboat writes a few rows a minute, so the extra `fsync` per
/// commit costs nothing anyone would measure.
///
/// Files: the database and its `-wal` and `-shm` are 0600 (they hold ACME private keys and the
/// history), in a directory created 0700 when Tugboat creates it.
package final class Store: Sendable {
    let database: any DatabaseWriter

    /// Opens (creating if needed) the database at `path`; `":memory:"` for a throwaway one.
    package init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        if path == ":memory:" {
            database = try DatabaseQueue(configuration: configuration)
        } else {
            try StoreFiles.prepare(path)
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            database = try DatabasePool(path: path, configuration: configuration)
            StoreFiles.restrict(path)
        }
        try Self.migrator.migrate(database)
        if path != ":memory:" { StoreFiles.restrict(path) }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: incidents and outbox") { db in
            try db.create(table: "incident") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("rule", .text).notNull()
                t.column("target", .text).notNull()
                t.column("state", .text).notNull()
                t.column("summary", .text).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("firedAt", .datetime)
                t.column("acknowledgedAt", .datetime)
                t.column("resolvedAt", .datetime)
            }
            try db.create(table: "notification") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("incident", .integer).notNull().references("incident")
                t.column("channel", .text).notNull()
                t.column("recipient", .text)
                t.column("kind", .text).notNull()
                t.column("status", .text).notNull()
                t.column("attempts", .integer).notNull()
                t.column("providerID", .text)
                t.column("lastError", .text)
                t.column("text", .text).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("nextAttemptAt", .datetime).notNull()
                t.column("sentAt", .datetime)
            }
            try db.create(index: "notification_due", on: "notification", columns: ["status", "nextAttemptAt"])
        }
        migrator.registerMigration("v2: run-time pool changes") { db in
            try db.create(table: "poolChange") { t in
                t.primaryKey("address", .text)
                t.column("added", .boolean).notNull()
                t.column("at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v3: scaling events") { db in
            try db.create(table: "scalingEvent") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("at", .datetime).notNull()
                t.column("fromCount", .integer).notNull()
                t.column("toCount", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("failed", .boolean).notNull()
            }
        }
        migrator.registerMigration("v4: flame graphs") { db in
            try db.alter(table: "incident") { t in t.add(column: "flamegraph", .text) }
            try db.create(table: "profile") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("address", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("source", .text).notNull()
                t.column("capturedAt", .datetime).notNull()
                t.column("windowStart", .datetime).notNull()
                t.column("samples", .integer).notNull()
                t.column("folded", .text).notNull()
                t.column("svg", .blob).notNull()
            }
            try db.create(index: "profile_by_address", on: "profile", columns: ["address", "capturedAt"])
        }
        migrator.registerMigration("v5: alert groups and silences") { db in
            try db.create(table: "alertGroup") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("key", .text).notNull()
                t.column("state", .text).notNull()
                t.column("summary", .text).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("firedAt", .datetime)
                t.column("acknowledgedAt", .datetime)
                t.column("acknowledgedBy", .text)
                t.column("resolvedAt", .datetime)
                t.column("silenced", .boolean).notNull().defaults(to: false)
            }
            try db.alter(table: "incident") { t in t.add(column: "alertGroup", .integer) }
            try db.alter(table: "notification") { t in t.add(column: "alertGroup", .integer) }
            try db.create(table: "silence") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("matchers", .text).notNull()
                t.column("startsAt", .datetime).notNull()
                t.column("endsAt", .datetime).notNull()
                t.column("comment", .text).notNull()
                t.column("createdBy", .text).notNull()
                t.column("createdAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v6: ACME account and certificates") { db in
            // Secrets (private keys, PEM): the database file is created 0600 (see init).
            try db.create(table: "acmeAccount") { t in
                t.primaryKey("directory", .text)
                t.column("keyPEM", .text).notNull()
                t.column("url", .text)
                t.column("createdAt", .datetime).notNull()
            }
            try db.create(table: "acmeCertificate") { t in
                t.primaryKey("domains", .text)  // the names, comma-separated, in config order
                t.column("chainPEM", .text).notNull()
                t.column("keyPEM", .text).notNull()
                t.column("notBefore", .datetime).notNull()
                t.column("notAfter", .datetime).notNull()
                t.column("obtainedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v7: pending conditions") { db in
            // A rule's condition that holds but has not held for its `for` yet: restored after a
            // restart, so the window goes on instead of starting again.
            try db.create(table: "pendingCondition") { t in
                t.column("rule", .text).notNull()
                t.column("target", .text).notNull()
                t.column("since", .datetime).notNull()
                t.column("detail", .text).notNull()
                t.primaryKey(["rule", "target"])
            }
        }
        return migrator
    }

    // MARK: Scaling events (GET /api/scaling/events)

    package struct ScalingEventRow: Sendable, Equatable {
        package var at: Date
        package var from: Int
        package var to: Int
        package var state: ScalingState
        package var reason: String
        package var failed: Bool

        package init(at: Date, from: Int, to: Int, state: ScalingState, reason: String, failed: Bool) {
            self.at = at
            self.from = from
            self.to = to
            self.state = state
            self.reason = reason
            self.failed = failed
        }
    }

    package func recordScalingEvent(_ row: ScalingEventRow) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT INTO scalingEvent (at, fromCount, toCount, state, reason, failed) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [row.at, row.from, row.to, row.state.rawValue, row.reason, row.failed])
        }
    }

    /// The newest `limit` events, oldest first; a state this version does not know is an ``UnknownWord`` error.
    package func scalingEvents(limit: Int = 1000) async throws -> [ScalingEventRow] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM (SELECT * FROM scalingEvent ORDER BY id DESC LIMIT ?) ORDER BY id", arguments: [limit]).map {
                try ScalingEventRow(at: $0["at"], from: $0["fromCount"], to: $0["toCount"], state: ScalingState(wire: $0["state"]),
                                    reason: $0["reason"], failed: $0["failed"])
            }
        }
    }

    // MARK: Pool members added or removed at run time (POST/DELETE /api/pool/backends)

    /// Records that `address` was added (true) or removed (false) at run time; the latest wins.
    package func recordPoolChange(_ address: String, added: Bool) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO poolChange (address, added, at) VALUES (?, ?, ?)",
                           arguments: [address, added, Date()])
        }
    }

    /// Forgets the run-time change of `address`: the config file speaks for it again (a reload
    /// added it to, or removed it from, `pool.backends`).
    package func forgetPoolChange(_ address: String) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM poolChange WHERE address = ?", arguments: [address])
        }
    }

    /// Run-time pool changes, oldest first: `(address, added)`.
    package func poolChanges() async throws -> [(address: String, added: Bool)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT address, added FROM poolChange ORDER BY at").map { ($0["address"], $0["added"]) }
        }
    }

    // MARK: Incidents

    /// Saves an incident (inserting it when new) together with the notifications it causes, atomically.
    @discardableResult
    package func save(_ incident: IncidentRecord, notifications: [NotificationRecord] = []) async throws -> IncidentRecord {
        try await database.write { db in try StoreQueries.save(incident, notifications: notifications, db) }
    }

    package func incident(id: Int64) async throws -> IncidentRecord? {
        try await database.read { db in try StoreQueries.incident(id: id, db) }
    }

    /// Newest first.
    package func incidents(limit: Int = 200) async throws -> [IncidentRecord] {
        try await database.read { db in
            try IncidentRecord.order(Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    /// Incidents not yet resolved (reloaded after a restart, so a firing one does not page again).
    package func openIncidents() async throws -> [IncidentRecord] {
        try await database.read { db in try StoreQueries.openIncidents(db) }
    }

    // MARK: Outbox

    /// Pending notifications whose next attempt is due, oldest first, but for the destinations
    /// (`channel`, `recipient`) in `excluding` (busy with a delivery).
    package func dueNotifications(now: Date, limit: Int = 50, excluding: [(channel: String, recipient: String?)] = []) async throws -> [NotificationRecord] {
        try await database.read { db in
            var request = NotificationRecord.filter(Column("status") == NotificationStatus.pending.rawValue && Column("nextAttemptAt") <= now)
            for (channel, recipient) in excluding {
                request = request.filter(!(Column("channel") == channel && Column("recipient") == recipient))
            }
            return try request.order(Column("nextAttemptAt"), Column("id")).limit(limit).fetchAll(db)
        }
    }

    /// Saves a delivery's outcome; its error text is redacted (``Redaction``) before it is written.
    package func update(_ notification: NotificationRecord) async throws {
        var redacted = notification
        redacted.lastError = Redaction.redact(notification.lastError)
        try await database.write { [redacted] db in try redacted.update(db) }
    }

    package func notifications(incident: Int64? = nil, limit: Int = 500) async throws -> [NotificationRecord] {
        try await database.read { db in try StoreQueries.notifications(incident: incident, limit: limit, db) }
    }
}

extension Store {
    /// Notifications by status: the outbox in /metrics. A status this version does not know is an
    /// ``UnknownWord`` error.
    package func notificationCounts() async throws -> [NotificationStatus: Int] {
        try await database.read { db in
            var counts: [NotificationStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM notification GROUP BY status") {
                counts[try NotificationStatus(wire: row["status"])] = row["n"]
            }
            return counts
        }
    }
}
