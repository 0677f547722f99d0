import Foundation
import TugboatRedis

extension ClusterNode {
    /// How long an ended silence stays in the hash (`GET /api/silences` shows the last day's).
    static let endedSilencesKept: TimeInterval = 86_400

    /// Stores a new silence under the next id (`INCR tugboat:<pool>:silence-id`) in
    /// `tugboat:<pool>:silences`; returns it with that id. Any node may. Refused with `.limit`
    /// when 10,000 silences are stored or its JSON is over 64 KiB; `.redisUnavailable` while Redis
    /// is down.
    package func createSilence(_ silence: SharedSilence) async throws(ClusterError) -> SharedSilence {
        let json = ClusterJSON.encode(silence)
        guard json.utf8.count <= SilenceEntries.maximumBytes else {
            throw .limit("a silence of \(json.utf8.count) bytes, at most \(SilenceEntries.maximumBytes)")
        }
        let reply = try await self.eval(ClusterScripts.createSilence, keys: [self.keys.silences, self.keys.silenceID],
                                        args: ["\(SilenceEntries.maximumCount)", json])
        guard let id = reply.int, id > 0 else { throw .invalidReply("silence create returned \(reply)") }
        var created = silence
        created.id = Int64(id)
        return created
    }

    /// Ends silence `id` at `date` on every node. False when there is no such silence (or it is
    /// unreadable) or it had ended by then. A read, then a write: two nodes ending the same
    /// silence at once both end it.
    package func expireSilence(id: Int64, at date: Date) async throws(ClusterError) -> Bool {
        let length = try await self.command(["HSTRLEN", self.keys.silences, "\(id)"])
        guard let bytes = length.int, bytes > 0, bytes <= SilenceEntries.maximumBytes else { return false }
        let value = try await self.command(["HGET", self.keys.silences, "\(id)"])
        let end = ClusterTime.milliseconds(date)
        guard case .success(var silence) = SilenceEntries.decode(field: .bulk("\(id)"), value: value), silence.ends > end else {
            return false
        }
        silence.ends = end
        if silence.starts > silence.ends { silence.starts = silence.ends }
        _ = try await self.command(["HSET", self.keys.silences, "\(id)", ClusterJSON.encode(silence)])
        return true
    }

    /// The silences that end after `cutoff`, by id. At most 10,000 are read (more fail the read
    /// with `.limit`); an unreadable or oversized entry is skipped and logged once. Silences that
    /// ended more than a day before `now` are deleted.
    package func silences(endedAfter cutoff: Date, now: Date = Date()) async throws(ClusterError) -> [SharedSilence] {
        let reply = try await self.eval(ClusterScripts.readSilences, keys: [self.keys.silences],
                                        args: ["\(SilenceEntries.maximumCount)", "\(SilenceEntries.maximumBytes)"])
        let entries = try SilenceEntries.parse(reply)
        self.report(entries.skipped)
        let oldest = now.addingTimeInterval(-Self.endedSilencesKept)
        let old = entries.silences.filter { $0.ends < oldest }.map { "\($0.id)" }
        if !old.isEmpty {
            do {
                _ = try await self.command(["HDEL", self.keys.silences] + old)
            } catch {
                self.logger.debug("old silences not deleted", metadata: ["error": "\(error)"])
            }
        }
        return entries.silences.filter { $0.ends > cutoff && $0.ends >= oldest }
    }

    /// Warns once about each unreadable silence (it is read every second).
    private func report(_ skipped: [SilenceEntries.Skipped]) {
        let current = Set(skipped.map { "\($0.field): \($0.reason)" })
        let new = self.state.withLock { state in
            defer { state.unreadableSilences = current }
            return current.subtracting(state.unreadableSilences)
        }
        for entry in skipped where new.contains("\(entry.field): \(entry.reason)") {
            self.logger.warning("ignoring an unreadable silence", metadata: ["cluster.field": "\(entry.field)", "reason": "\(entry.reason)"])
        }
    }

    private func command(_ command: [String]) async throws(ClusterError) -> RESPValue {
        do {
            return try await self.client.send(command)
        } catch {
            throw ClusterError(error)
        }
    }
}
