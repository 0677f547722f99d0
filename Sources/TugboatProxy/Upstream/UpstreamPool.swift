import NIOCore

/// Idle keep-alive connections to one backend, on one event loop. LIFO: the warmest connection
/// first, so those at the bottom are the ones a burst needed and the steady load does not; they
/// are closed by ``sweep(olderThan:now:)`` (see ``IdleSurplus``).
final class UpstreamPool {
    let backend: ProxyBackend
    private let eventLoop: EventLoop
    private var idle: [UpstreamHandler] = []
    private let maxIdle: Int
    private let connector: UpstreamConnector
    private var surplus = IdleSurplus()
    private var lastPurge: NIODeadline = .now()

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
            guard connection.isOpen else { continue }
            surplus.taken(leaving: idle.count)
            return connection
        }
        surplus.taken(leaving: 0)
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

    /// Closes connections idle for longer than `timeout`, and every ``IdleSurplus/interval`` half
    /// of those no request took since the last time (the longest idle first).
    func sweep(olderThan timeout: TimeAmount, now: NIODeadline) {
        let limit = now - timeout
        for connection in idle where connection.idleSince < limit {
            connection.close()
        }
        idle.removeAll { !$0.isOpen || $0.idleSince < limit }
        guard now - lastPurge >= .nanoseconds(Int64(IdleSurplus.interval * 1e9)) else { return }
        lastPurge = now
        let unused = surplus.purge(idleCount: idle.count)
        guard unused > 0 else { return }
        let closing = idle.prefix(unused)
        idle.removeFirst(unused)
        for connection in closing { connection.close() }
    }

    /// Closes every idle connection (the backend left the pool).
    func closeAll() {
        let connections = idle
        idle.removeAll()
        for connection in connections { connection.close() }
    }
}
