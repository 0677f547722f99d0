import Logging
import NIOCore
import Synchronization
import TugboatCore

/// Whether a `RedisClient` or `RedisSubscriber` has a connection.
package enum RedisConnectionState: Sendable, Hashable {
    /// Handshake done; commands are sent.
    case connected
    /// Not connected: connecting, or waiting to reconnect. Commands fail with `.notConnected`.
    case disconnected
    /// `close()` was called or `run()` was cancelled; final.
    case closed
}

/// Keeps one connection up: connect, hand it to the owner, wait for it to close, back off,
/// reconnect, until closed or cancelled. Shared by `RedisClient` and `RedisSubscriber`.
final class ConnectionSupervisor: Sendable {
    private enum Phase {
        case idle
        case connecting
        case connected(RedisConnection)
        case waiting(EventLoopPromise<Void>)
        case closed
    }

    private struct State {
        var phase = Phase.idle
        var running = false

        var publicState: RedisConnectionState {
            switch self.phase {
            case .connected: return .connected
            case .closed: return .closed
            case .idle, .connecting, .waiting: return .disconnected
            }
        }
    }

    private let state = Mutex(State())
    /// The public state and each change of it, to `states()`; published under `state`'s lock, so in order.
    private let changes = Broadcast<RedisConnectionState>(bufferSize: 16)
    let configuration: RedisConfiguration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger

    init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.changes.publish(.disconnected)
    }

    var connection: RedisConnection? {
        self.state.withLock { state in
            if case .connected(let connection) = state.phase { return connection }
            return nil
        }
    }

    var isClosed: Bool {
        self.state.withLock { state in
            if case .closed = state.phase { return true }
            return false
        }
    }

    /// A stream of the current state, then each change; it ends after `.closed`.
    func states() -> AsyncStream<RedisConnectionState> {
        self.changes.stream()
    }

    /// Ends `run()`: closes the connection (in-flight commands fail with `.connectionLost`) or
    /// cuts the backoff short. Idempotent.
    func close() {
        let closing = self.state.withLock { state -> Bool in
            switch state.phase {
            case .closed: return false
            case .connected(let connection): connection.close()
            case .waiting(let wakeUp): wakeUp.succeed()
            case .idle, .connecting: break
            }
            state.phase = .closed
            self.changes.publish(state.publicState)
            return true
        }
        if closing { self.changes.finish() }
    }

    /// The reconnect loop. `connected` runs on each new connection before its close is awaited
    /// (a thrown error drops the connection); `disconnected` after each connection is lost.
    func run(
        pubSub: Bool,
        onPush: @escaping @Sendable (RESPValue) -> Void,
        connected: (RedisConnection) async throws(RedisError) -> Void,
        disconnected: () -> Void
    ) async {
        let start = self.state.withLock { state -> Bool in
            guard !state.running, case .idle = state.phase else { return false }
            state.running = true
            state.phase = .connecting
            return true
        }
        guard start else {
            self.logger.error("redis run() called twice or after close(); ignoring")
            return
        }
        var logger = self.logger
        logger[metadataKey: "redis.address"] = "\(self.configuration.host):\(self.configuration.port)"
        var backoff = ReconnectBackoff(initial: self.configuration.reconnectInitialDelay, maximum: self.configuration.reconnectMaximumDelay)
        var failures = 0
        await withTaskCancellationHandler {
            while !Task.isCancelled, !self.isClosed {
                do {
                    let connection = try await RedisConnection.connect(
                        configuration: self.configuration,
                        eventLoopGroup: self.eventLoopGroup,
                        pubSub: pubSub,
                        logger: logger,
                        onPush: onPush
                    )
                    let registered = self.state.withLock { state -> Bool in
                        guard case .connecting = state.phase else { return false }
                        state.phase = .connected(connection)
                        self.changes.publish(state.publicState)
                        return true
                    }
                    guard registered else {
                        connection.close()
                        break
                    }
                    logger.info("redis connected", metadata: ["redis.protocol": "\(connection.protocolVersion)"])
                    failures = 0
                    backoff.reset()
                    do {
                        try await connected(connection)
                    } catch {
                        logger.warning("redis connection setup failed; reconnecting", metadata: ["error": "\(error)"])
                        connection.close()
                    }
                    try? await connection.channel.closeFuture.get()
                    let lost = self.state.withLock { state -> Bool in
                        guard case .connected = state.phase else { return false }
                        state.phase = .connecting
                        self.changes.publish(state.publicState)
                        return true
                    }
                    disconnected()
                    guard lost else { break }
                    logger.warning("redis connection lost; reconnecting")
                } catch {
                    failures += 1
                    let level: Logger.Level = failures == 1 ? .warning : .debug
                    logger.log(level: level, "redis connect failed", metadata: ["error": "\(error)", "redis.attempt": "\(failures)"])
                }
                await self.sleep(backoff.next())
            }
        } onCancel: {
            self.close()
        }
        self.close()
    }

    /// Waits `delay`, or less if closed meanwhile.
    private func sleep(_ delay: Duration) async {
        let loop = self.eventLoopGroup.any()
        let wakeUp = loop.makePromise(of: Void.self)
        let waiting = self.state.withLock { state -> Bool in
            guard case .connecting = state.phase else { return false }
            state.phase = .waiting(wakeUp)
            return true
        }
        guard waiting else { return }
        let timer = loop.scheduleTask(in: TimeAmount(delay)) { wakeUp.succeed() }
        try? await wakeUp.futureResult.get()
        timer.cancel()
        self.state.withLock { state in
            if case .waiting = state.phase { state.phase = .connecting }
        }
    }
}
