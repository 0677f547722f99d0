import TugboatRedis

/// `tls.acme` across nodes: the certificate, the account and the HTTP-01 answers live in Redis
/// (keys `tugboat:<pool>:acme:…`, see ``ClusterKeys``), so the leader orders once for every node
/// and whichever node the CA reaches answers its challenge. Values are opaque strings here (the
/// ACME service encodes them); each is capped at ``acmeValueLimit`` bytes both ways.
extension ClusterNode {
    /// A certificate chain with its key is a few KiB; anything far larger is not ours.
    package static let acmeValueLimit = 256 * 1024

    /// The value stored under `acme:<name>`, nil when there is none (or it is over the limit).
    package func acmeValue(_ name: String) async throws(ClusterError) -> String? {
        let key = self.keys.acme(name)
        let length = try await self.redis(["STRLEN", key])
        guard let bytes = length.int, bytes > 0, bytes <= Self.acmeValueLimit else { return nil }
        return try await self.redis(["GET", key]).string
    }

    /// Stores `value` under `acme:<name>`, expiring after `ttlSeconds` when given.
    package func setACMEValue(_ name: String, _ value: String, ttlSeconds: Int? = nil) async throws(ClusterError) {
        guard value.utf8.count <= Self.acmeValueLimit else {
            throw .limit("an ACME value of \(value.utf8.count) bytes, at most \(Self.acmeValueLimit)")
        }
        var command = ["SET", self.keys.acme(name), value]
        if let ttlSeconds { command += ["EX", "\(ttlSeconds)"] }
        _ = try await self.redis(command)
    }

    /// Removes `acme:<name>`; true when it was there (so a request is taken by one node only).
    @discardableResult
    package func removeACMEValue(_ name: String) async throws(ClusterError) -> Bool {
        (try await self.redis(["DEL", self.keys.acme(name)])).int == 1
    }

    private func redis(_ command: [String]) async throws(ClusterError) -> RESPValue {
        do {
            return try await self.client.send(command)
        } catch {
            throw ClusterError(error)
        }
    }
}
