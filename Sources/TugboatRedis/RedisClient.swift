import Logging
import NIOCore
import NIOPosix

/// A Redis command client on one pipelined connection that it keeps up by itself.
///
/// Call `run()` (e.g. from a `Service`) and keep it running; it connects, and after a lost
/// connection reconnects with backoff (100 ms doubling to 5 s, ±20 % jitter, configurable).
/// Commands are never queued while disconnected: they fail at once with `.notConnected`;
/// commands in flight when the connection drops fail with `.connectionLost`; a command without a
/// reply within `commandTimeout` fails with `.timeout` and the connection is re-established.
/// State set per connection (SELECT, CLIENT TRACKING, …) is lost on reconnect except the
/// configured database.
package final class RedisClient: Sendable {
    private let supervisor: ConnectionSupervisor
    private let pushContinuation: AsyncStream<RESPValue>.Continuation

    /// RESP3 push frames (e.g. CLIENT TRACKING invalidations) received on this client's
    /// connection; they are never taken as replies. Single consumer; keeps the newest 1024 if
    /// nobody reads.
    package let pushes: AsyncStream<RESPValue>

    package init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.supervisor = ConnectionSupervisor(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        (self.pushes, self.pushContinuation) = AsyncStream.makeStream(of: RESPValue.self, bufferingPolicy: .bufferingNewest(1024))
    }

    package var configuration: RedisConfiguration { self.supervisor.configuration }

    /// Connects and keeps the connection up until `close()` or cancellation; call it once.
    package func run() async {
        let pushes = self.pushContinuation
        await self.supervisor.run(pubSub: false, onPush: { pushes.yield($0) }, connected: { _ in }, disconnected: {})
        pushes.finish()
    }

    /// Ends `run()`; commands in flight fail with `.connectionLost`, later ones with `.closed`.
    package func close() {
        self.supervisor.close()
    }

    /// True while a connection is up.
    package var isConnected: Bool { self.supervisor.connection != nil }

    /// The current state, then every change; ends after `.closed`. Each call makes a new stream.
    package func connectionStates() -> AsyncStream<RedisConnectionState> {
        self.supervisor.states()
    }

    /// Sends one command and returns its reply. An error reply is thrown as `.server(message)`.
    package func send(_ command: [String]) async throws(RedisError) -> RESPValue {
        try Self.check(command)
        let reply = try await self.currentConnection().send(command)
        if let message = reply.errorMessage { throw .server(message) }
        return reply
    }

    /// Sends all commands in one write and flush; replies come back in order. Error replies are
    /// `.failure(.server(message))` in place; a lost connection or a timeout throws instead.
    /// Not atomic (wrap in MULTI/EXEC for that).
    package func pipeline(_ commands: [[String]]) async throws(RedisError) -> [Result<RESPValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        for command in commands { try Self.check(command) }
        let replies = try await self.currentConnection().pipeline(commands)
        return replies.map { reply in
            if let message = reply.errorMessage { return .failure(.server(message)) }
            return .success(reply)
        }
    }

    /// Runs a Lua script by `EVALSHA`, loading it with `EVAL` when the server answers NOSCRIPT.
    package func evalScript(_ script: RedisScript, keys: [String] = [], args: [String] = []) async throws(RedisError) -> RESPValue {
        let tail = [String(keys.count)] + keys + args
        do {
            return try await self.send(["EVALSHA", script.sha1] + tail)
        } catch .server(let message) where message.hasPrefix("NOSCRIPT") {
            return try await self.send(["EVAL", script.source] + tail)
        }
    }

    private func currentConnection() throws(RedisError) -> RedisConnection {
        guard let connection = self.supervisor.connection else {
            throw self.supervisor.isClosed ? .closed : .notConnected
        }
        return connection
    }

    private static let subscriberCommands: Set<String> = [
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "HELLO", "RESET", "QUIT",
    ]

    private static func check(_ command: [String]) throws(RedisError) {
        guard let name = command.first else { throw .unsupportedCommand("empty command") }
        if Self.subscriberCommands.contains(name.uppercased()) {
            throw .unsupportedCommand("\(name.uppercased()) changes the connection's mode; use RedisSubscriber for pub/sub")
        }
    }
}
