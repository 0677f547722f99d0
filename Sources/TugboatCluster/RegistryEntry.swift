import Foundation
import TugboatCore

/// One instance in the shared registry, stored as JSON under its address in
/// `tugboat:<pool>:instances`: `{"state":"healthy","provider_id":"…","since":"2025-01-31T12:00:00Z","origin":"scaler"}`.
package struct RegistryEntry: Sendable, Hashable, Codable {
    /// Who put the instance in the pool.
    package enum Origin: String, Sendable, Hashable, Codable {
        /// From the config file's `pool.backends`.
        case `static`
        /// Added through the admin API (any node).
        case admin
        /// Launched by the leader's scaler.
        case scaler
    }

    package var state: BackendState
    /// The scaling provider's id of the instance (process id, container id, …); empty otherwise.
    package var providerID: String
    /// When the instance entered `state` (whole seconds).
    package var since: Date
    package var origin: Origin

    package init(state: BackendState, providerID: String = "", since: Date = Date(), origin: Origin) {
        self.state = state
        self.providerID = providerID
        self.since = Date(timeIntervalSince1970: since.timeIntervalSince1970.rounded(.down))
        self.origin = origin
    }

    enum CodingKeys: String, CodingKey {
        case state
        case providerID = "provider_id"
        case since
        case origin
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.state = try container.decode(BackendState.self, forKey: .state)
        self.providerID = try container.decodeIfPresent(String.self, forKey: .providerID) ?? ""
        let since = try container.decode(String.self, forKey: .since)
        guard let date = ClusterTime.parse(since) else {
            throw DecodingError.dataCorruptedError(forKey: .since, in: container, debugDescription: "not an ISO 8601 time: \(since)")
        }
        self.since = date
        self.origin = try container.decode(Origin.self, forKey: .origin)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.state, forKey: .state)
        try container.encode(self.providerID, forKey: .providerID)
        try container.encode(ClusterTime.format(self.since, milliseconds: false), forKey: .since)
        try container.encode(self.origin, forKey: .origin)
    }
}

/// The whole registry at one version, read atomically (one Lua script returns the version and
/// the hash together).
package struct RegistrySnapshot: Sendable, Hashable {
    /// `tugboat:<pool>:version`; 0 when the registry was never written.
    package var version: UInt64
    package var instances: [HostPort: RegistryEntry]

    package init(version: UInt64, instances: [HostPort: RegistryEntry]) {
        self.version = version
        self.instances = instances
    }
}

/// ISO 8601 in UTC, as the JSON values in Redis carry it.
enum ClusterTime {
    static func format(_ date: Date, milliseconds: Bool) -> String {
        let total = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let millis = ((total % 1000) + 1000) % 1000
        let seconds = (total - millis) / 1000
        let whole = Date.ISO8601FormatStyle(timeZone: .gmt).format(Date(timeIntervalSince1970: Double(seconds)))
        guard milliseconds, whole.hasSuffix("Z") else { return whole }
        let digits = String(millis)
        return whole.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(text) { return date }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt).parse(text)
    }

    /// `date` rounded to whole milliseconds, so that it survives a round trip through `format`.
    static func milliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

enum ClusterJSON {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain structs cannot fail.
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) -> T? {
        try? decoding(type, from: text)
    }

    /// `text` as a `T`, or why not in one line (an unknown state names the word and the known ones).
    static func decoding<T: Decodable>(_ type: T.Type, from text: String) throws(UnreadableJSON) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch let error as DecodingError {
            switch error {
            case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
                let path = context.codingPath.map(\.stringValue).joined(separator: ".")
                throw UnreadableJSON(reason: path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)")
            @unknown default:
                throw UnreadableJSON(reason: "\(error)")
            }
        } catch {
            throw UnreadableJSON(reason: "\(error)")
        }
    }
}

/// A JSON value in Redis that this version cannot read, and why.
struct UnreadableJSON: Error, CustomStringConvertible {
    var reason: String
    var description: String { reason }
}
