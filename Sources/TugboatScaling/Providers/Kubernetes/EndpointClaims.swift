import TugboatCore

/// Which of the service's endpoints the scaler has been handed, and who waits for the next one.
/// Pure: the provider feeds it the endpoints and carries out what it answers.
///
/// A launch takes a free endpoint (ready, not terminating, not yet handed out) or waits for one;
/// an endpoint handed out that turns terminating, disappears or moves to another address is
/// `leaving`. Once the scaler has adopted what ran at start, every other free endpoint is handed
/// out as it appears (``follow(_:)``): each Tugboat replica proxies traffic, so the pool of a
/// follower (which never launches) follows the leader's scale steps, and the leader's follows a
/// replica count someone else set. One the scaler gave up on (``release(_:)`` of an instance still serving, e.g. it
/// failed Tugboat's health check) is not handed out again while it exists.
struct EndpointClaims: Sendable {
    private(set) var endpoints: [ServiceEndpoint] = []
    private(set) var claimed: [String: ScalingInstance] = [:]
    private(set) var rejected: Set<String> = []
    private(set) var waiting: [Int] = []

    static func instance(_ endpoint: ServiceEndpoint) -> ScalingInstance {
        ScalingInstance(providerID: endpoint.name, address: endpoint.address)
    }

    /// The replica count a launch needs: every instance handed out or awaited, plus the endpoints
    /// given up on that Kubernetes still counts.
    var launchTarget: Int { claimed.count + waiting.count + rejectedRunning }

    /// Endpoints given up on that Kubernetes still counts as replicas.
    var rejectedRunning: Int { endpoints.filter { rejected.contains($0.name) && !$0.terminating }.count }

    private var free: [ServiceEndpoint] {
        let taken = Set(claimed.values.map(\.address))
        return endpoints.filter { $0.takesTraffic && claimed[$0.name] == nil && !rejected.contains($0.name) && !taken.contains($0.address) }
    }

    /// A free endpoint at once, or nil and `id` waits (in order).
    mutating func take(waiter id: Int) -> ScalingInstance? {
        if waiting.isEmpty, let endpoint = free.first {
            let instance = Self.instance(endpoint)
            claimed[endpoint.name] = instance
            return instance
        }
        waiting.append(id)
        return nil
    }

    mutating func cancel(waiter id: Int) {
        waiting.removeAll { $0 == id }
    }

    /// Every free endpoint, handed out now (adoption at start or on becoming leader).
    mutating func takeAll() -> [ScalingInstance] {
        free.map { endpoint in
            let instance = Self.instance(endpoint)
            claimed[endpoint.name] = instance
            return instance
        }
    }

    /// The scaler is done with `instance`. True when it was still serving (so Kubernetes still
    /// counts it): it is not handed out again while it exists.
    mutating func release(_ instance: ScalingInstance) -> Bool {
        guard claimed[instance.providerID] == instance else { return false }
        claimed.removeValue(forKey: instance.providerID)
        rejected.insert(instance.providerID)
        return true
    }

    /// New endpoints: who gets a free one, and which handed-out instances leave.
    mutating func update(_ now: [ServiceEndpoint]) -> (granted: [(waiter: Int, instance: ScalingInstance)], leaving: [ScalingInstance]) {
        endpoints = now
        let byName = Dictionary(now.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        rejected = rejected.filter { byName[$0] != nil }
        var leaving: [ScalingInstance] = []
        for (name, instance) in claimed.sorted(by: { $0.key < $1.key }) {
            guard let endpoint = byName[name], !endpoint.terminating, endpoint.address == instance.address else {
                claimed.removeValue(forKey: name)
                leaving.append(instance)
                continue
            }
        }
        var granted: [(waiter: Int, instance: ScalingInstance)] = []
        for endpoint in free {
            guard !waiting.isEmpty else { break }
            let instance = Self.instance(endpoint)
            claimed[endpoint.name] = instance
            granted.append((waiting.removeFirst(), instance))
        }
        return (granted, leaving)
    }

    /// New endpoints once adoption is under way: ``update(_:)``, then every endpoint still free
    /// (ready, not terminating, nobody waiting for it, not given up on) is handed out as `arrived`.
    /// Launches waiting are served first, so a leader's own scale-up is not counted twice.
    mutating func follow(_ now: [ServiceEndpoint]) -> (granted: [(waiter: Int, instance: ScalingInstance)], leaving: [ScalingInstance],
                                                       arrived: [ScalingInstance]) {
        let (granted, leaving) = update(now)
        return (granted, leaving, takeAll())
    }
}
