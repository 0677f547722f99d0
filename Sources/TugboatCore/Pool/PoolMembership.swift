import Logging
import Synchronization

/// Adds backends and drains them out of the pool at run time. Draining: the backend stops getting
/// new requests at once; it leaves the pool when its in-flight requests are done or `drain` ends.
/// The control logic only: the data plane applies the pool's snapshots and reports its in-flight
/// requests (`inflight`); `TugboatRuntime` runs the drains as a service.
package final class PoolMembership: Sendable {
    private let pool: Pool
    /// Requests in flight per backend, as the data plane counts them.
    private let inflight: @Sendable () -> [HostPort: Int]
    private let drainTime: Mutex<Duration>
    private let logger: Logger
    private let drains: AsyncStream<HostPort>
    private let drainRequests: AsyncStream<HostPort>.Continuation
    /// Told of every change made here (`true`: added), to persist it.
    private let onChange: @Sendable (HostPort, Bool) async -> Void

    package init(pool: Pool, drain: Duration, logger: Logger, inflight: @escaping @Sendable () -> [HostPort: Int],
                onChange: @escaping @Sendable (HostPort, Bool) async -> Void = { _, _ in }) {
        self.onChange = onChange
        self.pool = pool
        self.inflight = inflight
        self.drainTime = Mutex(drain)
        self.logger = logger
        (drains, drainRequests) = AsyncStream.makeStream()
    }

    package enum Change: Equatable, Sendable {
        case done
        case alreadyPresent
        case unknown
    }

    /// How long a removed backend may finish its in-flight requests (`pool.drain`; a reload sets it).
    package var drain: Duration {
        get { drainTime.withLock { $0 } }
        set { drainTime.withLock { $0 = newValue } }
    }

    /// Adds a backend (it gets traffic once its health checks pass). A backend still draining is
    /// taken back instead. `persist: false` for a change the config file itself makes (a reload).
    package func add(_ address: HostPort, reason: String = "added at run time", persist: Bool = true) async -> Change {
        var taken = await pool.add(address, reason: reason)
        if !taken { taken = await pool.cancelDrain(address, reason: reason + " while draining") }
        guard taken else { return .alreadyPresent }
        if persist { await onChange(address, true) }
        return .done
    }

    /// Starts draining a backend; it is removed once idle or when the drain time ends.
    package func drainAndRemove(_ address: HostPort, reason: String = "removed at run time", persist: Bool = true) async -> Change {
        guard let state = await pool.state(of: address) else { return .unknown }
        if state != .draining {
            await pool.setState(address, .draining, reason: "\(reason); draining for up to \(DurationParser.format(drain))")
            if persist { await onChange(address, false) }
            drainRequests.yield(address)
        }
        return .done
    }

    /// Finishes each drain asked for until ``stopTakingDrains()`` (or cancellation); returns once
    /// the drains under way are done.
    package func runDrains() async {
        await withDiscardingTaskGroup { group in
            for await address in drains {
                group.addTask { await self.finishDrain(address) }
            }
        }
    }

    /// No more drains are started (graceful shutdown); those under way finish.
    package func stopTakingDrains() {
        drainRequests.finish()
    }

    private func finishDrain(_ address: HostPort) async {
        _ = await DrainWait.until(within: drain, every: .milliseconds(50)) { (inflight()[address] ?? 0) == 0 }
        let leftover = inflight()[address] ?? 0
        // Added again while it drained: it stays.
        guard await pool.state(of: address) == .draining else { return }
        await pool.remove(address)
        logger.info("backend drained", metadata: ["backend.address": "\(address)", "inflight.cut": "\(leftover)"])
    }
}
