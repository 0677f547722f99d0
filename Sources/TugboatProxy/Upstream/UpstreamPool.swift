import NIOCore

/// Idle keep-alive connections to one backend, on one event loop. LIFO: the warmest connection first.
final class UpstreamPool {
    let backend: ProxyBackend
    private let eventLoop: EventLoop
    private var idle: [UpstreamHandler] = []
    private let maxIdle: Int
    private let connector: UpstreamConnector

    init(backend: ProxyBackend, eventLoop: EventLoop, maxIdle: Int, connector: UpstreamConnector) {
        self.backend = backend
        self.eventLoop = eventLoop
        self.maxIdle = maxIdle
        self.connector = connector
    }

    var idleCount: Int { idle.count }

    /// An open idle connection, or nil when a new one must be dialled.
    func takeIdle() -> UpstreamHandler? {
        while let connection = idle.popLast() {
            if connection.isOpen { return connection }
        }
        return nil
    }

    /// Dials a new connection on this event loop.
    func connect() -> EventLoopFuture<UpstreamHandler> {
        connector.connect(to: backend, on: eventLoop).assumeIsolated().map { connection in
            connection.pool = self
            return connection
        }.nonisolated()
    }

    /// A connection closed: if it was idle here, it is no longer.
    func forget(_ connection: UpstreamHandler) {
        if let index = idle.lastIndex(where: { $0 === connection }) { idle.remove(at: index) }
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
        connection.idleSince = eventLoop.now
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
