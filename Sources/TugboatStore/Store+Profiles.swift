import Foundation
import GRDB

/// A captured profile of one instance: the folded stacks of its last window and their flame graph.
package struct ProfileRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "profile"

    package var id: Int64?
    /// The instance, `host:port`.
    package var address: String
    /// Why it was captured: `exited`, `unhealthy`, `5xx burst`, `on demand`.
    package var reason: String
    /// `perf`, `py-spy`, `pprof-url` or `push`.
    package var source: String
    package var capturedAt: Date
    /// The oldest sample the window may hold.
    package var windowStart: Date
    package var samples: Int
    /// `a;b;c count` lines.
    package var folded: String
    /// The rendered flame graph (SVG).
    package var svg: Data

    package init(address: String, reason: String, source: String, capturedAt: Date, windowStart: Date,
                samples: Int, folded: String, svg: Data) {
        self.address = address
        self.reason = reason
        self.source = source
        self.capturedAt = capturedAt
        self.windowStart = windowStart
        self.samples = samples
        self.folded = folded
        self.svg = svg
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

extension Store {
    /// The reason of captures asked for through the admin API.
    package static let onDemand = "on demand"

    /// Keeps a profile; returns it with its id. Only the newest `keep` profiles are kept.
    package func save(_ profile: ProfileRecord, keep: Int = 200) async throws -> ProfileRecord {
        try await database.write { db in
            var profile = profile
            try profile.insert(db)
            try db.execute(sql: "DELETE FROM profile WHERE id <= ?", arguments: [(profile.id ?? 0) - Int64(keep)])
            return profile
        }
    }

    package func profile(id: Int64) async throws -> ProfileRecord? {
        try await database.read { db in try ProfileRecord.fetchOne(db, key: id) }
    }

    /// The profiles, newest first, without their folded stacks and SVG (for listings).
    package func profiles(limit: Int = 100) async throws -> [ProfileRecord] {
        try await database.read { db in
            try ProfileRecord.fetchAll(db, sql: """
                SELECT id, address, reason, source, capturedAt, windowStart, samples, '' AS folded, x'' AS svg
                FROM profile ORDER BY id DESC LIMIT ?
                """, arguments: [limit])
        }
    }

    /// The profile that belongs to an incident about `address` that started at `startedAt`: the
    /// capture of the instance's exit (from `slack` before it started until it ended), else the
    /// first one captured after it started (before it ended), else the last one captured up to
    /// `slack` before it (a capture on a trigger that preceded the incident, e.g. unhealthy).
    /// Captures asked for by hand (reason ``onDemand``) are not an incident's.
    package func profile(for address: String, startedAt: Date, endedAt: Date?, slack: TimeInterval = 60) async throws -> ProfileRecord? {
        try await database.read { db in
            // The capture of the instance's exit, when there is one, says most about the incident.
            if let exit = try ProfileRecord.fetchOne(db, sql: """
                SELECT * FROM profile WHERE address = ? AND reason LIKE 'exited on its own%' AND capturedAt >= ? AND capturedAt <= ?
                ORDER BY capturedAt LIMIT 1
                """, arguments: [address, startedAt.addingTimeInterval(-slack), endedAt ?? Date.distantFuture]) {
                return exit
            }
            if let after = try ProfileRecord.fetchOne(db, sql: """
                SELECT * FROM profile WHERE address = ? AND reason != ? AND capturedAt >= ? AND capturedAt <= ?
                ORDER BY capturedAt LIMIT 1
                """, arguments: [address, Self.onDemand, startedAt, endedAt ?? Date.distantFuture]) {
                return after
            }
            return try ProfileRecord.fetchOne(db, sql: """
                SELECT * FROM profile WHERE address = ? AND reason != ? AND capturedAt >= ? AND capturedAt < ?
                ORDER BY capturedAt DESC LIMIT 1
                """, arguments: [address, Self.onDemand, startedAt.addingTimeInterval(-slack), startedAt])
        }
    }
}
