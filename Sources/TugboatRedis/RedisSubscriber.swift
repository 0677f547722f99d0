import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A message published on a subscribed channel.
package struct RedisMessage: Sendable, Hashable {
    package let channel: String
    package let payload: ByteBuffer
    /// The payload as UTF-8 text.
    package var text: String { String(buffer: self.payload) }

    package init(channel: String, payload: ByteBuffer) {
        self.channel = channel
        self.payload = payload
    }
}

/// What a `RedisSubscriber` delivers, in order.
package enum RedisSubscriberEvent: Sendable, Hashable {
    case message(RedisMessage)
    /// All channels are subscribed on a new connection (the first one, or after a reconnect).
    /// Messages published while disconnected were lost: re-read the whole state now.
    case resynced
    /// The connection dropped; messages may be missed until the next `.resynced`.
    case disconnected
}

/// Pub/sub on a dedicated connection that reconnects and resubscribes by itself.
///
/// Works on RESP3 (messages are push frames) and RESP2 (message arrays on a subscribed
/// connection). Consume `events` from one task; after each (re)connect `.resynced` follows the
/// server's confirmation of every subscription.
package final class RedisSubscriber: Sendable {
    private struct State {
        var channels: Set<String> = []
        var confirmations: [String: [EventLoopPromise<Void>]] = [:]
    }

    private let supervisor: ConnectionSupervisor
    private let state = Mutex(State())
    private let continuation: AsyncStream<RedisSubscriberEvent>.Continuation

    /// Messages and connection markers. Single consumer; keeps the newest `bufferLimit` events
    /// if the consumer falls behind (it would then have missed messages, as after a reconnect).
    package let events: AsyncStream<RedisSubscriberEvent>

    package init(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        bufferLimit: Int = 10_000
    ) {
        self.supervisor = ConnectionSupervisor(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        (self.events, self.continuation) = AsyncStream.makeStream(of: RedisSubscriberEvent.self, bufferingPolicy: .bufferingNewest(bufferLimit))
    }

    /// True while a connection is up.
    package var isConnected: Bool { self.supervisor.connection != nil }

    /// The current state, then every change; ends after `.closed`.
    package func connectionStates() -> AsyncStream<RedisConnectionState> {
        self.supervisor.states()
    }

    /// Connects, subscribes and keeps doing so until `close()` or cancellation; call it once.
    package func run() async {
        await self.supervisor.run(
            pubSub: true,
            onPush: { [weak self] in self?.received($0) },
            connected: { connection throws(RedisError) in
                let channels = self.state.withLock { $0.channels }
                try await self.subscribe(Array(channels), on: connection)
                self.continuation.yield(.resynced)
            },
            disconnected: {
                self.failConfirmations(with: .connectionLost)
                self.continuation.yield(.disconnected)
            }
        )
        self.failConfirmations(with: .closed)
        self.continuation.finish()
    }

    /// Ends `run()` and the `events` stream.
    package func close() {
        self.supervisor.close()
    }

    /// Adds channels. When connected, returns once the server has confirmed them (throwing
    /// `.timeout` or `.connectionLost` otherwise); when not, returns at once. Either way the
    /// channels stay registered and are subscribed again after every reconnect.
    package func subscribe(_ channels: [String]) async throws(RedisError) {
        guard !channels.isEmpty else { return }
        if self.supervisor.isClosed { throw .closed }
        self.state.withLock { $0.channels.formUnion(channels) }
        guard let connection = self.supervisor.connection else { return }
        try await self.subscribe(channels, on: connection)
    }

    /// Removes channels; no more messages of theirs are delivered once the server processed it.
    package func unsubscribe(_ channels: [String]) {
        guard !channels.isEmpty else { return }
        self.state.withLock { $0.channels.subtract(channels) }
        self.supervisor.connection?.sendWithoutReply(["UNSUBSCRIBE"] + channels)
    }

    private func subscribe(_ channels: [String], on connection: RedisConnection) async throws(RedisError) {
        guard !channels.isEmpty else { return }
        let loop = connection.channel.eventLoop
        let promises = channels.map { _ in loop.makePromise(of: Void.self) }
        self.state.withLock { state in
            for (channel, promise) in zip(channels, promises) { state.confirmations[channel, default: []].append(promise) }
        }
        connection.sendWithoutReply(["SUBSCRIBE"] + channels)
        let timeout = TimeAmount(self.supervisor.configuration.commandTimeout)
        let timer = loop.scheduleTask(in: timeout) {
            for promise in promises { promise.fail(RedisError.timeout) }
            connection.close()
        }
        defer { timer.cancel() }
        do {
            try await EventLoopFuture.andAllSucceed(promises.map(\.futureResult), on: loop).get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw .connectionLost
        }
    }

    private func failConfirmations(with error: RedisError) {
        let pending = self.state.withLock { state in
            defer { state.confirmations = [:] }
            return state.confirmations.values.flatMap { $0 }
        }
        for promise in pending { promise.fail(error) }
    }

    /// Runs on the connection's event loop.
    private func received(_ value: RESPValue) {
        if let message = value.errorMessage {
            self.supervisor.logger.warning("redis refused a subscription", metadata: ["redis.reply": "\(message)"])
            self.failConfirmations(with: .server(message))
            return
        }
        guard let elements = value.array, let kind = elements.first?.string?.lowercased() else { return }
        switch kind {
        case "message" where elements.count == 3:
            guard let channel = elements[1].string, let payload = elements[2].bytes else { return }
            self.continuation.yield(.message(RedisMessage(channel: channel, payload: payload)))
        case "subscribe" where elements.count >= 2:
            guard let channel = elements[1].string else { return }
            let confirmed = self.state.withLock { $0.confirmations.removeValue(forKey: channel) } ?? []
            for promise in confirmed { promise.succeed() }
        default:
            break
        }
    }
}
