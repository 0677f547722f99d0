import Logging
import NIOCore
import NIOSSL

/// What `RedisChannelHandler` writes: commands sent in one write, and one promise per command
/// that expects a reply (none for SUBSCRIBE on a subscriber connection, whose confirmations are
/// pushes).
struct RedisRequest: Sendable {
    var commands: [[String]]
    var promises: [EventLoopPromise<RESPValue>]
}

/// Matches replies to commands in order (a queue of promises), sends push frames elsewhere, and
/// enforces the per-command timeout. On a timeout, a protocol error or a closed connection every
/// waiting command fails and the channel is closed, since reply order can no longer be trusted.
/// With a health-check interval (subscriber connections, which otherwise wait for nothing) it
/// sends a PING that often, under the same timeout.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        let promise: EventLoopPromise<RESPValue>
        let deadline: NIODeadline
    }

    private var waiting = CircularBuffer<Waiting>()
    private var timer: Scheduled<Void>?
    private var failure: RedisError?
    private let commandTimeout: TimeAmount
    /// A subscriber connection: RESP2 pub/sub arrays and replies nobody waits for are pushes.
    private let pubSub: Bool
    private let healthCheckInterval: TimeAmount?
    private var healthCheck: Scheduled<Void>?
    private var pinging = false
    private let onPush: @Sendable (RESPValue) -> Void
    private let logger: Logger

    init(commandTimeout: TimeAmount, pubSub: Bool, healthCheckInterval: TimeAmount? = nil, logger: Logger,
         onPush: @escaping @Sendable (RESPValue) -> Void) {
        self.commandTimeout = commandTimeout
        self.pubSub = pubSub
        self.healthCheckInterval = healthCheckInterval
        self.logger = logger
        self.onPush = onPush
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.startHealthCheck(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.startHealthCheck(context: context)
        context.fireChannelActive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        self.send(Self.unwrapOutboundIn(data), context: context, promise: promise)
    }

    private func send(_ request: RedisRequest, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if let failure = self.failure {
            for reply in request.promises { reply.fail(failure) }
            promise?.fail(failure)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64 * request.commands.count)
        for command in request.commands { RESPEncoder.encode(command: command, into: &buffer) }
        let deadline = NIODeadline.now() + self.commandTimeout
        for reply in request.promises { self.waiting.append(Waiting(promise: reply, deadline: deadline)) }
        if self.timer == nil { self.armTimer(context: context) }
        context.write(Self.wrapOutboundOut(buffer), promise: promise)
    }

    /// A PING every interval while none is outstanding; its reply is awaited like any command's.
    private func startHealthCheck(context: ChannelHandlerContext) {
        guard let interval = self.healthCheckInterval, self.healthCheck == nil, self.failure == nil else { return }
        self.healthCheck = context.eventLoop.assumeIsolated().scheduleTask(in: interval) { [self] in
            self.healthCheck = nil
            guard self.failure == nil else { return }
            if !self.pinging {
                self.pinging = true
                let reply = context.eventLoop.makePromise(of: RESPValue.self)
                reply.futureResult.assumeIsolated().whenComplete { [self] _ in self.pinging = false }
                self.send(RedisRequest(commands: [["PING"]], promises: [reply]), context: context, promise: nil)
                context.flush()
            }
            self.startHealthCheck(context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        if case .push = value.withoutAttributes {
            self.onPush(value)
            return
        }
        if self.pubSub, Self.isPubSubMessage(value) {
            self.onPush(value)
            return
        }
        guard let next = self.waiting.popFirst() else {
            if self.pubSub {
                self.onPush(value)
            } else {
                self.logger.warning("redis reply nobody asked for; closing the connection")
                self.fail(context: context, with: .protocolError("unexpected reply"))
            }
            return
        }
        if self.waiting.isEmpty {
            self.timer?.cancel()
            self.timer = nil
        }
        next.promise.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(with: .connectionLost)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.failAll(with: .connectionLost)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? RESPParserError {
            self.logger.warning("redis protocol error; closing the connection", metadata: ["error": "\(parserError)"])
            self.fail(context: context, with: .protocolError(parserError.message))
        } else if let reason = TLSHandshakeWatcher.refusal(error) {
            // rediss://: the server's certificate or name was not accepted (or it does not speak TLS).
            self.fail(context: context, with: .connectFailed("TLS handshake failed: \(reason)"))
        } else {
            self.logger.debug("redis connection error", metadata: ["error": "\(error)"])
            self.fail(context: context, with: .connectionLost)
        }
    }

    private func fail(context: ChannelHandlerContext, with error: RedisError) {
        self.failAll(with: error)
        context.close(promise: nil)
    }

    private func failAll(with error: RedisError) {
        if self.failure == nil { self.failure = error }
        self.healthCheck?.cancel()
        self.healthCheck = nil
        self.timer?.cancel()
        self.timer = nil
        while let next = self.waiting.popFirst() { next.promise.fail(error) }
    }

    /// One timer, for the oldest command: it has the earliest deadline.
    private func armTimer(context: ChannelHandlerContext) {
        guard let first = self.waiting.first else { return }
        let loop = context.eventLoop.assumeIsolated()
        self.timer = loop.scheduleTask(deadline: first.deadline) { [self] in
            self.timer = nil
            guard let first = self.waiting.first else { return }
            guard first.deadline <= .now() else {
                self.armTimer(context: context)
                return
            }
            self.logger.warning("redis command timed out; dropping the connection")
            // The timed-out command gets `.timeout`; those behind it lose their connection.
            self.waiting.removeFirst().promise.fail(RedisError.timeout)
            self.fail(context: context, with: .connectionLost)
        }
    }

    private static let pubSubKinds: Set<String> = [
        "message", "pmessage", "smessage", "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
    ]

    /// On a RESP2 subscribed connection messages and confirmations come as plain arrays.
    private static func isPubSubMessage(_ value: RESPValue) -> Bool {
        guard case .array(let elements?) = value, let kind = elements.first?.string else { return false }
        return Self.pubSubKinds.contains(kind.lowercased())
    }
}
