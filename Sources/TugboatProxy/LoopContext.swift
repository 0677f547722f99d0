import NIOCore
import TugboatCore

/// Everything the data plane keeps per event loop: the backend list it balances over, upstream
/// pools, the traffic meter and the balancer. Only touched on its own event loop, so no locks.
final class LoopContext {
    let eventLoop: EventLoop
    let configuration: ProxyConfiguration
    var backends = BackendSet()
    var balancer: Balancer
    var meter = TrafficMeter()
    var requestIDs = RequestIDGenerator()
    /// Indexed by backend slot.
    private var pools: [UpstreamPool?] = []
    /// Called on the loop when live traffic fails against a backend `consecutive` times in a row.
    let onPassiveFailure: @Sendable (HostPort, Int) -> Void

    init(eventLoop: EventLoop, configuration: ProxyConfiguration, onPassiveFailure: @escaping @Sendable (HostPort, Int) -> Void) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.balancer = Balancer(algorithm: configuration.balance == .leastRequest ? .leastRequest : .roundRobin)
        self.onPassiveFailure = onPassiveFailure
    }

    func pool(for backend: ProxyBackend) -> UpstreamPool {
        if backend.slot < pools.count, let pool = pools[backend.slot] { return pool }
        if backend.slot >= pools.count { pools.append(contentsOf: repeatElement(nil, count: backend.slot - pools.count + 1)) }
        let pool = UpstreamPool(
            backend: backend, eventLoop: eventLoop,
            maxIdle: configuration.maxIdleUpstreamsPerLoop, connectTimeout: configuration.connectTimeout
        )
        pools[backend.slot] = pool
        return pool
    }

    /// Installs a new backend list; pools of backends that left are closed.
    func install(_ set: BackendSet) {
        let kept = Set(set.all.map(\.slot))
        for (slot, pool) in pools.enumerated() where pool != nil && !kept.contains(slot) {
            pool?.closeAll()
            pools[slot] = nil
        }
        backends = set
    }

    func sweepIdleUpstreams() {
        let now = NIODeadline.now()
        for pool in pools { pool?.sweep(olderThan: configuration.idleTimeout, now: now) }
    }

    /// A live-traffic failure against `backend`; reports when the run reaches the threshold.
    func recordFailure(_ backend: ProxyBackend) {
        let run = backend.recordFailure()
        let threshold = configuration.passiveFailures
        if threshold > 0 && run >= threshold && (run - threshold) % threshold == 0 {
            onPassiveFailure(backend.address, run)
        }
    }
}

/// `X-Request-Id` values: a random per-loop prefix and a counter, as hex. Cheap and unique enough.
struct RequestIDGenerator {
    private let prefix: String = String(UInt64.random(in: 0...UInt64.max), radix: 16, uppercase: false) + "-"
    private var counter: UInt64 = 0

    mutating func next() -> String {
        counter &+= 1
        return prefix + String(counter, radix: 16)
    }
}
