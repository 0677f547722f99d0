import Logging
import NIOCore
import NIOPosix
import NIOSSL
import TugboatCore

/// One connection, after the handshake. Internal: `RedisClient` and `RedisSubscriber` own and
/// replace these.
struct RedisConnection: Sendable {
    let channel: any Channel
    /// Protocol agreed in the handshake (2 or 3).
    let protocolVersion: Int

    /// Connects, then runs the handshake: `HELLO 3 [AUTH u p] [SETNAME n]` (RESP2 fallback when
    /// HELLO is refused: `AUTH`, `CLIENT SETNAME`), then `SELECT db`.
    static func connect(
        configuration: RedisConfiguration,
        eventLoopGroup: any EventLoopGroup,
        pubSub: Bool,
        logger: Logger,
        onPush: @escaping @Sendable (RESPValue) -> Void
    ) async throws(RedisError) -> RedisConnection {
        let commandTimeout = TimeAmount(configuration.commandTimeout)
        let tls: NIOSSLContext?
        do {
            tls = try configuration.tls?.makeContext()
        } catch {
            throw .connectFailed("TLS settings unusable: \(error)")
        }
        let serverName = TLSServerName.forHost(configuration.host)
        let eventLoop = eventLoopGroup.next()
        let handshake = tls.map { _ in eventLoop.makePromise(of: Void.self) }
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls, let handshake {
                            try channel.pipeline.syncOperations.addHandlers(NIOSSLClientHandler(context: tls, serverHostname: serverName),
                                                                            TLSHandshakeWatcher(handshake))
                        }
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(RESPDecoder()),
                            RedisChannelHandler(commandTimeout: commandTimeout, pubSub: pubSub,
                                                healthCheckInterval: pubSub ? TimeAmount(configuration.healthCheckInterval) : nil,
                                                logger: logger, onPush: onPush)
                        )
                    }
                }
                .connect(host: configuration.host, port: configuration.port)
                .get()
        } catch let error as ChannelError where error == .connectTimeout(TimeAmount(configuration.connectTimeout)) {
            handshake?.fail(RedisError.connectionLost)
            throw .connectFailed("no connection to \(configuration.host):\(configuration.port) within \(configuration.connectTimeout)")
        } catch {
            handshake?.fail(RedisError.connectionLost)
            throw .connectFailed("\(configuration.host):\(configuration.port): \(error)")
        }
        if let handshake {
            try await Self.waitForTLS(handshake, channel: channel, timeout: configuration.connectTimeout)
        }
        do {
            let version = try await Self.handshake(channel: channel, configuration: configuration, logger: logger)
            return RedisConnection(channel: channel, protocolVersion: version)
        } catch {
            channel.close(promise: nil)
            throw error
        }
    }

    /// `rediss://`: the TLS handshake done within `timeout`, else the connection is closed and the
    /// reason thrown (the certificate or name refused, or no TLS answer in time).
    private static func waitForTLS(_ handshake: EventLoopPromise<Void>, channel: any Channel, timeout: Duration) async throws(RedisError) {
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            handshake.fail(RedisError.connectFailed("no TLS handshake within \(timeout)"))
        }
        channel.closeFuture.whenComplete { _ in handshake.fail(RedisError.connectionLost) }
        defer { deadline.cancel() }
        do {
            try await handshake.futureResult.get()
        } catch {
            channel.close(promise: nil)
            if let redisError = error as? RedisError, case .connectFailed = redisError { throw redisError }
            throw .connectFailed("TLS handshake failed: \(TLSHandshakeWatcher.refusal(error) ?? "\(error)")")
        }
    }

    private static func handshake(channel: any Channel, configuration: RedisConfiguration, logger: Logger) async throws(RedisError) -> Int {
        var version = 2
        var authenticated = false
        var named = false
        if configuration.protocolVersion == .resp3 {
            var hello = ["HELLO", "3"]
            if let password = configuration.password {
                hello += ["AUTH", configuration.username ?? "default", password]
            }
            if let name = configuration.clientName { hello += ["SETNAME", name] }
            let reply = try await Self.send(hello, on: channel)
            if let message = reply.errorMessage {
                if Self.isAuthenticationError(message) { throw .authenticationFailed(message) }
                logger.debug("redis refused HELLO 3; falling back to RESP2", metadata: ["redis.reply": "\(message)"])
            } else {
                version = 3
                authenticated = true
                named = true
            }
        }
        if !authenticated, let password = configuration.password {
            var auth = ["AUTH"]
            if let username = configuration.username { auth.append(username) }
            auth.append(password)
            let reply = try await Self.send(auth, on: channel)
            if let message = reply.errorMessage { throw .authenticationFailed(message) }
        }
        if !named, let name = configuration.clientName {
            let reply = try await Self.send(["CLIENT", "SETNAME", name], on: channel)
            if let message = reply.errorMessage { throw .server(message) }
        }
        if configuration.database != 0 {
            let reply = try await Self.send(["SELECT", String(configuration.database)], on: channel)
            if let message = reply.errorMessage { throw .server(message) }
        }
        return version
    }

    private static func isAuthenticationError(_ message: String) -> Bool {
        ["WRONGPASS", "NOAUTH", "NOPERM", "ERR invalid password", "ERR AUTH"].contains { message.hasPrefix($0) }
    }

    /// Sends one command and returns its reply (error replies included, not thrown).
    func send(_ command: [String]) async throws(RedisError) -> RESPValue {
        try await Self.send(command, on: self.channel)
    }

    /// Writes all commands with one flush and returns their replies in order.
    func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RESPValue] {
        let promises = commands.map { _ in self.channel.eventLoop.makePromise(of: RESPValue.self) }
        Self.write(RedisRequest(commands: commands, promises: promises), on: self.channel)
        var replies: [RESPValue] = []
        replies.reserveCapacity(promises.count)
        for promise in promises { replies.append(try await Self.wait(promise.futureResult)) }
        return replies
    }

    /// Writes commands whose answers come as pushes (SUBSCRIBE on a subscriber connection).
    func sendWithoutReply(_ command: [String]) {
        Self.write(RedisRequest(commands: [command], promises: []), on: self.channel)
    }

    func close() {
        self.channel.close(promise: nil)
    }

    private static func send(_ command: [String], on channel: any Channel) async throws(RedisError) -> RESPValue {
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        Self.write(RedisRequest(commands: [command], promises: [promise]), on: channel)
        return try await Self.wait(promise.futureResult)
    }

    private static func write(_ request: RedisRequest, on channel: any Channel) {
        channel.writeAndFlush(request).whenFailure { error in
            // Already failed by the handler if it saw the request; a second failure is ignored.
            let failure = error as? RedisError ?? .connectionLost
            for promise in request.promises { promise.fail(failure) }
        }
    }

    private static func wait(_ future: EventLoopFuture<RESPValue>) async throws(RedisError) -> RESPValue {
        do {
            return try await future.get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw .connectionLost
        }
    }
}
