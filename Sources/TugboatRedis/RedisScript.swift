import TugboatCore

/// A Lua script with its SHA-1, for `RedisClient.evalScript(_:keys:args:)` (EVALSHA, then EVAL on
/// NOSCRIPT). Build it once (e.g. a `static let`) and reuse it.
package struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    package let source: String
    /// Lower-case hex SHA-1 of the source, the name Redis caches it under.
    package let sha1: String

    package init(_ source: String) {
        self.source = source
        self.sha1 = SHA1.hexDigest(source)
    }
}
