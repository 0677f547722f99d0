import Foundation
import TugboatCore
import TugboatStore

// Silences (`/api/silences`) and maintenance windows: incidents are recorded, nobody is paged.
extension AlertManager {
    package enum SilenceError: Error, Equatable, CustomStringConvertible {
        case invalid(String)
        package var description: String { if case .invalid(let text) = self { text } else { "" } }
    }

    package static let silenceLabels = ["rule", "target", "pool"]

    /// Creates a silence in the book; it takes effect at once here, and within a second on
    /// other nodes sharing the book.
    package func createSilence(matchers: [String: String], starts: Date?, ends: Date, comment: String, createdBy: String) async throws -> SilenceRecord {
        let now = clock.date
        let starts = starts ?? now
        if let unknown = matchers.keys.first(where: { !Self.silenceLabels.contains($0) }) {
            throw SilenceError.invalid("unknown matcher '\(unknown)' (expected \(Self.silenceLabels.joined(separator: ", ")))")
        }
        guard ends > starts else { throw SilenceError.invalid("'ends' must be after 'starts'") }
        guard ends > now else { throw SilenceError.invalid("'ends' is in the past") }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: matchers, options: [.sortedKeys]), as: UTF8.self)
        let record = try await silenceBook.create(SilenceRecord(matchers: json, startsAt: starts, endsAt: ends, comment: comment,
                                                                createdBy: createdBy, createdAt: now))
        silenceSync.changed()
        silenceRecords.removeAll { $0.id == record.id }
        silenceRecords.append(record)
        logger.info("silence created", metadata: ["silence.id": "\(record.id ?? 0)", "matchers": "\(json)", "ends": "\(ends)"])
        tick()
        return record
    }

    /// Ends a silence now (on every node sharing the book). False if there is no such silence or
    /// it has ended already.
    package func expireSilence(id: Int64) async throws -> Bool {
        guard try await silenceBook.expire(id: id, at: clock.date) else { return false }
        silenceSync.changed()
        silenceRecords.removeAll { $0.id == id }
        logger.info("silence expired", metadata: ["silence.id": "\(id)"])
        tick()
        return true
    }

    /// Silences active now or still to come, and those that ended within the last day.
    package func silences() async throws -> [SilenceRecord] {
        try await silenceBook.list(endedAfter: clock.date.addingTimeInterval(-86_400))
    }

    /// Re-reads the silences not ended yet from the book (other nodes may have changed them).
    /// While the book cannot be read the last list read stays in force; one warning per outage.
    func reloadSilences() async {
        let generation = silenceSync.generation
        let now = clock.date
        let list: [SilenceRecord]
        do {
            list = try await silenceBook.list(endedAfter: now)
        } catch {
            if silenceSync.failed() {
                logger.warning("silences cannot be read; the last ones read stay in force", metadata: [
                    "silences": "\(silenceRecords.count)", "error": "\(error)",
                ])
            } else {
                logger.debug("silences not read", metadata: ["error": "\(error)"])
            }
            return
        }
        if silenceSync.succeeded() { logger.info("silences can be read again", metadata: ["silences": "\(list.count)"]) }
        // A change made here while the read was under way is newer than what it returned.
        guard generation == silenceSync.generation, list != silenceRecords else { return }
        let known = Set(silenceRecords.compactMap(\.id)), read = Set(list.compactMap(\.id))
        for record in list where !known.contains(record.id ?? 0) {
            logger.info("silence loaded", metadata: ["silence.id": "\(record.id ?? 0)", "matchers": "\(record.matchers)", "ends": "\(record.endsAt)"])
        }
        for record in silenceRecords where !read.contains(record.id ?? 0) && record.endsAt > now {
            logger.info("silence expired elsewhere", metadata: ["silence.id": "\(record.id ?? 0)"])
        }
        silenceRecords = list
        tick()
    }

    /// The grouper's view: active silences and open maintenance windows.
    func refreshSilences() {
        let now = clock.date
        silenceRecords.removeAll { $0.endsAt <= now }
        var active = silenceRecords.map { record in
            let matchers = (try? JSONSerialization.jsonObject(with: Data(record.matchers.utf8))) as? [String: String] ?? [:]
            return Silence(name: "silence \(record.id ?? 0)", matchers: matchers, starts: record.startsAt, ends: record.endsAt)
        }
        for window in config.maintenance where window.isOpen(at: now) {
            active.append(Silence(name: "maintenance window \(window.name)", matchers: [:], starts: .distantPast, ends: now.addingTimeInterval(1)))
        }
        grouper.silences = active
    }
}

/// Keeping the silences read from the book current: which reads are stale, and when an outage of
/// the book is worth a warning (after a few failed reads, so a connection still being made at
/// start-up is not one; once per outage, not every second).
struct SilenceSync: Equatable {
    static let warnAfterFailures = 3

    /// Bumped by each change made through this node: a read begun before it is out of date.
    private(set) var generation = 0
    private(set) var failures = 0

    mutating func changed() { generation += 1 }

    /// A read failed: true when this is the one to warn about.
    mutating func failed() -> Bool {
        failures += 1
        return failures == Self.warnAfterFailures
    }

    /// A read succeeded: true when a warning was given for the failures before it.
    mutating func succeeded() -> Bool {
        defer { failures = 0 }
        return failures >= Self.warnAfterFailures
    }
}
