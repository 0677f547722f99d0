import Foundation
import TugboatAlerts
import TugboatCluster
import TugboatStore

/// Several nodes share their silences through Redis (`tugboat:<pool>:silences`): one created or
/// expired through any node's admin API holds or releases the pages of every node, the leader's
/// included. Each node's `AlertManager` re-reads them every second and keeps the last ones read
/// while Redis is unreachable.
struct ClusterSilenceBook: SilenceBook {
    let node: ClusterNode

    func create(_ silence: SilenceRecord) async throws -> SilenceRecord {
        Self.record(try await node.createSilence(Self.shared(silence)))
    }

    func expire(id: Int64, at date: Date) async throws -> Bool {
        try await node.expireSilence(id: id, at: date)
    }

    func list(endedAfter cutoff: Date) async throws -> [SilenceRecord] {
        try await node.silences(endedAfter: cutoff).map(Self.record)
    }

    /// `matchers` is the JSON object the `AlertManager` wrote.
    static func shared(_ record: SilenceRecord) -> SharedSilence {
        let matchers = (try? JSONSerialization.jsonObject(with: Data(record.matchers.utf8))) as? [String: String] ?? [:]
        return SharedSilence(id: record.id ?? 0, matchers: matchers, starts: record.startsAt, ends: record.endsAt,
                             comment: record.comment, createdBy: record.createdBy, createdAt: record.createdAt)
    }

    static func record(_ silence: SharedSilence) -> SilenceRecord {
        let matchers = (try? JSONSerialization.data(withJSONObject: silence.matchers, options: [.sortedKeys])) ?? Data("{}".utf8)
        var record = SilenceRecord(matchers: String(decoding: matchers, as: UTF8.self), startsAt: silence.starts, endsAt: silence.ends,
                                   comment: silence.comment, createdBy: silence.createdBy, createdAt: silence.createdAt)
        record.id = silence.id
        return record
    }
}
