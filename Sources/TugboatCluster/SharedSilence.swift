import Foundation
import NIOCore
import TugboatRedis

/// A silence as the nodes share it: JSON under its id in `tugboat:<pool>:silences`,
/// `{"comment":"deploy","created_at":"…","created_by":"ops","ends":"2025-01-31T14:00:00.000Z","matchers":{"rule":"front-down"},"starts":"…"}`
/// (the id is the hash field, not part of the JSON). Times are kept to whole milliseconds.
package struct SharedSilence: Sendable, Hashable {
    /// The hash field; 0 until `createSilence` gives it one.
    package var id: Int64
    /// Label → value (`rule`, `target`, `pool`); every one must match. Empty matches everything.
    package var matchers: [String: String]
    package var starts: Date
    package var ends: Date
    package var comment: String
    package var createdBy: String
    package var createdAt: Date

    package init(id: Int64 = 0, matchers: [String: String], starts: Date, ends: Date, comment: String, createdBy: String, createdAt: Date) {
        self.id = id
        self.matchers = matchers
        self.starts = ClusterTime.milliseconds(starts)
        self.ends = ClusterTime.milliseconds(ends)
        self.comment = comment
        self.createdBy = createdBy
        self.createdAt = ClusterTime.milliseconds(createdAt)
    }
}

extension SharedSilence: Codable {
    enum CodingKeys: String, CodingKey {
        case matchers, starts, ends, comment
        case createdBy = "created_by"
        case createdAt = "created_at"
    }

    /// Decodes the JSON of a hash value; the id (the field) is set by the reader.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func date(_ key: CodingKeys) throws -> Date {
            let text = try container.decode(String.self, forKey: key)
            guard let date = ClusterTime.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not an ISO 8601 time: \(text)")
            }
            return date
        }
        self.init(matchers: try container.decode([String: String].self, forKey: .matchers), starts: try date(.starts), ends: try date(.ends),
                  comment: try container.decode(String.self, forKey: .comment), createdBy: try container.decode(String.self, forKey: .createdBy),
                  createdAt: try date(.createdAt))
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.matchers, forKey: .matchers)
        try container.encode(ClusterTime.format(self.starts, milliseconds: true), forKey: .starts)
        try container.encode(ClusterTime.format(self.ends, milliseconds: true), forKey: .ends)
        try container.encode(self.comment, forKey: .comment)
        try container.encode(self.createdBy, forKey: .createdBy)
        try container.encode(ClusterTime.format(self.createdAt, milliseconds: true), forKey: .createdAt)
    }
}

/// One read of `tugboat:<pool>:silences`, bounded: a Redis reply is untrusted input. More than
/// `maximumCount` silences fail the whole read (the caller keeps what it had); an entry that is
/// too large or unreadable is skipped with the reason, never trusted.
struct SilenceEntries: Sendable, Equatable {
    static let maximumCount = 10_000
    static let maximumBytes = 64 * 1024

    struct Skipped: Error, Sendable, Equatable {
        /// The field as read (cut to 64 characters).
        var field: String
        var reason: String
    }

    /// By id.
    var silences: [SharedSilence]
    var skipped: [Skipped]

    /// Reads the reply of `ClusterScripts.readSilences` (or of `HGETALL`): field, value pairs, where
    /// the script replaces a value over `maximumBytes` by its length (an integer).
    static func parse(_ reply: RESPValue, maximumCount: Int = maximumCount, maximumBytes: Int = maximumBytes) throws(ClusterError) -> SilenceEntries {
        guard let pairs = reply.pairs else { throw .invalidReply("silences read returned \(String(describing: reply).prefix(200))") }
        guard pairs.count <= maximumCount else { throw .limit("\(pairs.count) silences stored, at most \(maximumCount) are read") }
        var entries = SilenceEntries(silences: [], skipped: [])
        var seen: Set<Int64> = []
        for pair in pairs {
            switch decode(field: pair.key, value: pair.value, maximumBytes: maximumBytes) {
            case .success(let silence) where seen.contains(silence.id):
                entries.skipped.append(Skipped(field: "\(silence.id)", reason: "the same id twice"))
            case .success(let silence):
                seen.insert(silence.id)
                entries.silences.append(silence)
            case .failure(let skipped):
                entries.skipped.append(skipped)
            }
        }
        entries.silences.sort { $0.id < $1.id }
        return entries
    }

    /// One field and value of the hash: the silence, or why it is skipped.
    static func decode(field: RESPValue, value: RESPValue, maximumBytes: Int = maximumBytes) -> Result<SharedSilence, Skipped> {
        let name = String((field.string ?? "\(field)").prefix(64))
        guard let text = field.string, text.utf8.count <= 19, let id = Int64(text), id > 0 else {
            return .failure(Skipped(field: name, reason: "not a silence id"))
        }
        switch value.withoutAttributes {
        case .integer(let length):
            return .failure(Skipped(field: name, reason: "larger than \(maximumBytes) bytes (\(length))"))
        case .bulkString(let buffer?) where buffer.readableBytes > maximumBytes:
            return .failure(Skipped(field: name, reason: "larger than \(maximumBytes) bytes (\(buffer.readableBytes))"))
        case .bulkString(let buffer?):
            guard var silence = try? JSONDecoder().decode(SharedSilence.self, from: Data(buffer.readableBytesView)) else {
                return .failure(Skipped(field: name, reason: "not a silence's JSON"))
            }
            silence.id = id
            return .success(silence)
        default:
            return .failure(Skipped(field: name, reason: "not a string"))
        }
    }
}
