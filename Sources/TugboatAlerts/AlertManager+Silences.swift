import Foundation
import TugboatCore
import TugboatStore

// Silences (`/api/silences`) and maintenance windows: incidents are recorded, nobody is paged.
extension AlertManager {
    public enum SilenceError: Error, Equatable, CustomStringConvertible {
        case invalid(String)
        public var description: String { if case .invalid(let text) = self { text } else { "" } }
    }

    public static let silenceLabels = ["rule", "target", "pool"]

    /// Creates and persists a silence; it takes effect at once.
    public func createSilence(matchers: [String: String], starts: Date?, ends: Date, comment: String, createdBy: String) throws -> SilenceRecord {
        let now = Date()
        let starts = starts ?? now
        if let unknown = matchers.keys.first(where: { !Self.silenceLabels.contains($0) }) {
            throw SilenceError.invalid("unknown matcher '\(unknown)' (expected \(Self.silenceLabels.joined(separator: ", ")))")
        }
        guard ends > starts else { throw SilenceError.invalid("'ends' must be after 'starts'") }
        guard ends > now else { throw SilenceError.invalid("'ends' is in the past") }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: matchers, options: [.sortedKeys]), as: UTF8.self)
        let record = try store.insert(silence: SilenceRecord(matchers: json, startsAt: starts, endsAt: ends, comment: comment,
                                                             createdBy: createdBy, createdAt: now))
        silenceRecords.append(record)
        logger.info("silence created", metadata: ["silence.id": "\(record.id ?? 0)", "matchers": "\(json)", "ends": "\(ends)"])
        tick()
        return record
    }

    /// Ends a silence now. False if there is no such silence or it has ended already.
    public func expireSilence(id: Int64) throws -> Bool {
        guard var record = try store.silence(id: id), record.endsAt > Date() else { return false }
        record.endsAt = Date()
        if record.startsAt > record.endsAt { record.startsAt = record.endsAt }
        try store.update(silence: record)
        silenceRecords.removeAll { $0.id == id }
        logger.info("silence expired", metadata: ["silence.id": "\(id)"])
        tick()
        return true
    }

    /// Silences active now or still to come, and those that ended within the last day.
    public func silences() throws -> [SilenceRecord] {
        try store.silences(endedAfter: Date().addingTimeInterval(-86_400))
    }

    /// The grouper's view: active silences and open maintenance windows.
    func refreshSilences() {
        let now = Date()
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
