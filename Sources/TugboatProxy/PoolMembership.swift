import Logging
import ServiceLifecycle
import Synchronization
import TugboatCore

/// Adds backends and drains them out of the pool at run time. Draining: the backend stops getting
/// new requests at once; it leaves the pool when its in-flight requests are done or `drain` ends.
public final class PoolMembership: Service, Sendable {
    private let pool: Pool
    private let dataPlane: ProxyDataPlane
    private let drainTime: Mutex<Duration>
    private let logger: Logger
    private let drains: AsyncStream<HostPort>
    private let drainRequests: AsyncStream<HostPort>.Continuation
    /// Told of every change made here (`true`: added), to persist it.
    private let onChange: @Sendable (HostPort, Bool) async -> Void

    public init(pool: Pool, dataPlane: ProxyDataPlane, drain: Duration, logger: Logger,
                onChange: @escaping @Sendable (HostPort, Bool) async -> Void = { _, _ in }) {
        self.onChange = onChange
        self.pool = pool
        self.dataPlane = dataPlane
        self.drainTime = Mutex(drain)
        self.logger = logger
        (drains, drainRequests) = AsyncStream.makeStream()
    }

    public enum Change: Equatable, Sendable {
        case done
        case alreadyPresent
        case unknown
    }

    /// How long a removed backend may finish its in-flight requests (`pool.drain`; a reload sets it).
    public var drain: Duration {
        get { drainTime.withLock { $0 } }
        set { drainTime.withLock { $0 = newValue } }
    }

    /// Adds a backend (it gets traffic once its health checks pass). A backend still draining is
    /// taken back instead. `persist: false` for a change the config file itself makes (a reload).
    public func add(_ address: HostPort, reason: String = "added at run time", persist: Bool = true) async -> Change {
        var taken = await pool.add(address, reason: reason)
        if !taken { taken = await pool.cancelDrain(address, reason: reason + " while draining") }
        guard taken else { return .alreadyPresent }
        if persist { await onChange(address, true) }
        return .done
    }

    /// Starts draining a backend; it is removed once idle or when the drain time ends.
    public func drainAndRemove(_ address: HostPort, reason: String = "removed at run time", persist: Bool = true) async -> Change {
        guard let state = await pool.state(of: address) else { return .unknown }
        if state != .draining {
            await pool.setState(address, .draining, reason: "\(reason); draining for up to \(DurationParser.format(drain))")
            if persist { await onChange(address, false) }
            drainRequests.yield(address)
        }
        return .done
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await address in drains.cancelOnGracefulShutdown() {
                group.addTask { await self.finishDrain(address) }
            }
        }
    }

    private func finishDrain(_ address: HostPort) async {
        _ = await DrainWait.until(within: drain, every: .milliseconds(50)) { (dataPlane.inflight()[address] ?? 0) == 0 }
        let leftover = dataPlane.inflight()[address] ?? 0
        // Added again while it drained: it stays.
        guard await pool.state(of: address) == .draining else { return }
        await pool.remove(address)
        logger.info("backend drained", metadata: ["backend.address": "\(address)", "inflight.cut": "\(leftover)"])
    }
}
