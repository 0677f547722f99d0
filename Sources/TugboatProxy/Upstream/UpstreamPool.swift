import NIOCore
import NIOHTTP1
import NIOPosix

/// Idle keep-alive connections to one backend, on one event loop. LIFO: the warmest connection first.
final class UpstreamPool {
    let backend: ProxyBackend
    private let eventLoop: EventLoop
    private var idle: [UpstreamHandler] = []
    private let maxIdle: Int
    private let connectTimeout: TimeAmount

    init(backend: ProxyBackend, eventLoop: EventLoop, maxIdle: Int, connectTimeout: TimeAmount) {
        self.backend = backend
        self.eventLoop = eventLoop
        self.maxIdle = maxIdle
        self.connectTimeout = connectTimeout
    }

    var idleCount: Int { idle.count }

    /// An open idle connection, or nil when a new one must be dialled.
    func takeIdle() -> UpstreamHandler? {
        while let connection = idle.popLast() {
            if connection.isOpen { return connection }
        }
        return nil
    }

    /// Dials a new connection on this event loop (as swift-nio-examples' connect-proxy does).
    func connect() -> EventLoopFuture<UpstreamHandler> {
        let backend = self.backend
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 256 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // As addHTTPClientHandlers does, but 1xx responses (100 Continue) are passed on.
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(HTTPRequestEncoder())
                    try ops.addHandler(ByteToMessageHandler(HTTPResponseDecoder(
                        leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .forward
                    )))
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(backend: backend))
                }
            }
            .connect(to: backend.socketAddress)
            .flatMapThrowing { channel in
                try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            }
    }

    /// Puts a finished, reusable connection back; closes it when the pool is full.
    func release(_ connection: UpstreamHandler) {
        guard connection.isOpen else { return }
        connection.delegate = nil
        connection.resumeReads()
        if idle.count >= maxIdle {
            connection.close()
            return
        }
        connection.idleSince = .now()
        connection.onClose = { [weak self] closed in
            self?.idle.removeAll { $0 === closed }
        }
        idle.append(connection)
    }

    /// Closes connections idle for longer than `timeout`.
    func sweep(olderThan timeout: TimeAmount, now: NIODeadline) {
        let limit = now - timeout
        for connection in idle where connection.idleSince < limit {
            connection.close()
        }
        idle.removeAll { !$0.isOpen || $0.idleSince < limit }
    }

    /// Closes every idle connection (the backend left the pool).
    func closeAll() {
        let connections = idle
        idle.removeAll()
        for connection in connections { connection.close() }
    }
}
