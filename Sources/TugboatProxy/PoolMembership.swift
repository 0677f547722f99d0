import Logging
import ServiceLifecycle
import TugboatCore

/// Adds backends and drains them out of the pool at run time. Draining: the backend stops getting
/// new requests at once; it leaves the pool when its in-flight requests are done or `drain` ends.
public final class PoolMembership: Service, Sendable {
    private let pool: Pool
    private let dataPlane: ProxyDataPlane
    private let drainTime: Duration
    private let logger: Logger
    private let drains: AsyncStream<HostPort>
    private let drainRequests: AsyncStream<HostPort>.Continuation
    /// Told of every change made here (`true`: added), to persist it.
    private let onChange: @Sendable (HostPort, Bool) -> Void

    public init(pool: Pool, dataPlane: ProxyDataPlane, drain: Duration, logger: Logger,
                onChange: @escaping @Sendable (HostPort, Bool) -> Void = { _, _ in }) {
        self.onChange = onChange
        self.pool = pool
        self.dataPlane = dataPlane
        self.drainTime = drain
        self.logger = logger
        (drains, drainRequests) = AsyncStream.makeStream()
    }

    public enum Change: Equatable, Sendable {
        case done
        case alreadyPresent
        case unknown
    }

    /// Adds a backend (it gets traffic once its health checks pass).
    public func add(_ address: HostPort) async -> Change {
        guard await pool.add(address, reason: "added at run time") else { return .alreadyPresent }
        onChange(address, true)
        return .done
    }

    /// Starts draining a backend; it is removed once idle or when the drain time ends.
    public func drainAndRemove(_ address: HostPort) async -> Change {
        guard let state = await pool.state(of: address) else { return .unknown }
        if state != .draining {
            await pool.setState(address, .draining, reason: "removed at run time; draining for up to \(DurationParser.format(drainTime))")
            onChange(address, false)
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
        let deadline = ContinuousClock.now + drainTime
        while ContinuousClock.now < deadline, (dataPlane.inflight()[address] ?? 0) > 0 {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let leftover = dataPlane.inflight()[address] ?? 0
        await pool.remove(address)
        logger.info("backend drained", metadata: ["backend.address": "\(address)", "inflight.cut": "\(leftover)"])
    }
}
