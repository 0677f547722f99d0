import Foundation
import TugboatStore

/// Where silences live. One node keeps them in its own store (``StoreSilenceBook``); several
/// nodes share one book (Redis), so that a silence made through any node holds every node's pages.
/// The ``AlertManager`` validates a silence before it reaches the book, and re-reads the book
/// every second to pick up what other nodes changed.
package protocol SilenceBook: Sendable {
    /// Stores a new silence; returns it with its id.
    func create(_ silence: SilenceRecord) async throws -> SilenceRecord
    /// Ends silence `id` at `at`. False if there is no such silence or it had ended by then.
    func expire(id: Int64, at: Date) async throws -> Bool
    /// Silences that end after `endedAfter` (active, still to come, or ended since), by id.
    func list(endedAfter: Date) async throws -> [SilenceRecord]
}

/// The silences of one node, in its SQLite store.
package struct StoreSilenceBook: SilenceBook {
    let store: Store

    package init(store: Store) {
        self.store = store
    }

    package func create(_ silence: SilenceRecord) async throws -> SilenceRecord {
        try await store.insert(silence: silence)
    }

    package func expire(id: Int64, at date: Date) async throws -> Bool {
        guard var record = try await store.silence(id: id), record.endsAt > date else { return false }
        record.endsAt = date
        if record.startsAt > record.endsAt { record.startsAt = record.endsAt }
        try await store.update(silence: record)
        return true
    }

    package func list(endedAfter cutoff: Date) async throws -> [SilenceRecord] {
        try await store.silences(endedAfter: cutoff)
    }
}
