import TugboatRedis

/// Why a cluster operation failed. Operations never wait for Redis to come back: they fail at
/// once (or within the command timeout) with one of these.
package enum ClusterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Redis is down or the command was lost or timed out; nothing may have been written.
    case redisUnavailable(String)
    /// A leader's write carried an epoch older than the current one: another node has been
    /// elected since. The writer must stop acting as leader.
    case staleEpoch(write: UInt64, current: UInt64)
    /// Redis answered with an error.
    case redis(String)
    /// Redis answered something this module does not understand.
    case invalidReply(String)
    /// More than this module reads or writes (e.g. over 10,000 silences): refused, nothing changed.
    case limit(String)

    package var description: String {
        switch self {
        case .redisUnavailable(let reason): return "cluster: Redis unavailable (\(reason))"
        case .staleEpoch(let write, let current):
            return "cluster: write refused: leader epoch \(write) is stale, the current epoch is \(current) (another node leads)"
        case .redis(let message): return "cluster: Redis error: \(message)"
        case .invalidReply(let reason): return "cluster: unexpected reply from Redis: \(reason)"
        case .limit(let reason): return "cluster: refused: \(reason)"
        }
    }

    init(_ error: RedisError) {
        switch error {
        case .server(let message):
            let parts = message.split(separator: " ")
            if parts.first == "STALE_EPOCH", parts.count == 3, let write = UInt64(parts[1]), let current = UInt64(parts[2]) {
                self = .staleEpoch(write: write, current: current)
            } else if parts.first == "TOO_MANY_SILENCES" {
                self = .limit(parts.dropFirst().joined(separator: " "))
            } else {
                self = .redis(message)
            }
        case .notConnected, .connectionLost, .timeout, .closed, .connectFailed:
            self = .redisUnavailable(error.description)
        default:
            self = .redis(error.description)
        }
    }
}
