/// Errors of `RedisClient`, `RedisSubscriber` and `RedisConfiguration`. None of them ever holds
/// the password.
package enum RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server answered with an error reply (`ERR …`, `WRONGTYPE …`, `NOSCRIPT …`).
    case server(String)
    /// Authentication (HELLO … AUTH or AUTH) was refused; the server's message.
    case authenticationFailed(String)
    /// No connection is up right now (the client is reconnecting, or `run()` has not connected
    /// yet). Commands are not queued: they fail at once.
    case notConnected
    /// The connection dropped while the command was in flight; it may or may not have run.
    case connectionLost
    /// Connecting (TCP connect plus handshake) failed.
    case connectFailed(String)
    /// No reply within the command timeout; the connection is dropped and re-established.
    case timeout
    /// The client or subscriber was closed.
    case closed
    /// The server sent something that is not valid RESP, or a reply nobody asked for.
    case protocolError(String)
    /// A `redis://` URL could not be parsed; the reason (never the password).
    case invalidURL(String)
    /// The command cannot be sent through this API (e.g. SUBSCRIBE on `RedisClient`).
    case unsupportedCommand(String)

    package var description: String {
        switch self {
        case .server(let message): return "Redis error: \(message)"
        case .authenticationFailed(let message): return "Redis authentication failed: \(message)"
        case .notConnected: return "Redis is not connected (reconnecting)"
        case .connectionLost: return "Redis connection lost while the command was in flight"
        case .connectFailed(let reason): return "Redis connect failed: \(reason)"
        case .timeout: return "Redis command timed out; the connection is being re-established"
        case .closed: return "Redis client is closed"
        case .protocolError(let reason): return "Redis protocol error: \(reason)"
        case .invalidURL(let reason): return "invalid Redis URL: \(reason)"
        case .unsupportedCommand(let reason): return "unsupported Redis command: \(reason)"
        }
    }
}
