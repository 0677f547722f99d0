import Foundation
import TugboatCluster
import TugboatCore
import TugboatScaling

/// The registry ↔ pool mapping of ``ClusterBridge``, decided without I/O (as the lease is): from what
/// the registry holds, what this node's pool holds and what happened, it says what to do, and it
/// remembers which members came from the registry and which this node's scaler runs.
///
/// - Every node: an address the registry lists is added to the pool; one marked `draining`, or one
///   taken from the registry that has left it, is drained and removed. Static backends (the config
///   file's) are never touched.
/// - The leader: what its scaler adds, changes and removes is written to the registry; on election
///   it adopts the former leader's scaler instances (when they outlive their node) and clears the
///   registry of scaler instances that no longer run.
package struct RegistryReconciler: Sendable, Equatable {
    /// A change to this node's pool.
    package enum PoolAction: Sendable, Hashable {
        case add(HostPort)
        case drainAndRemove(HostPort)
    }

    /// A write to the registry (the leader's, with its epoch).
    package enum RegistryAction: Sendable, Hashable {
        case upsert(HostPort, RegistryEntry)
        case remove(HostPort)

        package var address: HostPort {
            switch self {
            case .upsert(let address, _), .remove(let address): address
            }
        }
    }

    package let staticBackends: Set<HostPort>
    /// Whether this node runs a scaler, whose instances the leader publishes.
    package let hasScaler: Bool
    /// Whether the scaler's instances outlive their node (exec, docker), so a new leader adopts the
    /// registry's; process instances die with the node that started them.
    package let adoptsInstances: Bool
    /// Members added because the registry listed them.
    package private(set) var fromRegistry: Set<HostPort> = []
    /// Members this node's scaler runs (launched or adopted).
    package private(set) var own: Set<HostPort> = []

    package init(staticBackends: Set<HostPort>, hasScaler: Bool, adoptsInstances: Bool) {
        self.staticBackends = staticBackends
        self.hasScaler = hasScaler
        self.adoptsInstances = adoptsInstances
    }

    /// The registry → this node's pool (`pool`: the addresses it holds now).
    package mutating func reconcile(registry: [HostPort: RegistryEntry], pool: Set<HostPort>) -> [PoolAction] {
        var actions: [PoolAction] = []
        for (address, entry) in registry.sorted(by: { $0.key < $1.key }) where !staticBackends.contains(address) {
            if entry.state == .draining {
                if pool.contains(address) { actions.append(.drainAndRemove(address)) }
            } else if !pool.contains(address), !own.contains(address) {
                fromRegistry.insert(address)
                actions.append(.add(address))
            }
        }
        for address in fromRegistry.sorted() where registry[address] == nil {
            forget(address)
            if pool.contains(address) { actions.append(.drainAndRemove(address)) }
        }
        return actions
    }

    /// The leader's scaler → the registry: what a pool signal changes there (nil: nothing).
    package mutating func publish(_ signal: Signal, isLeader: Bool, now: Date) -> RegistryAction? {
        guard isLeader else { return nil }
        switch signal {
        case .backendAdded(let address) where isScalerInstance(address):
            own.insert(address)
            return .upsert(address, RegistryEntry(state: .starting, since: now, origin: .scaler))
        case .backendStateChanged(let address, _, let to, _) where own.contains(address):
            return .upsert(address, RegistryEntry(state: to, since: now, origin: .scaler))
        case .backendRemoved(let address) where own.contains(address):
            forget(address)
            return .remove(address)
        default:
            return nil
        }
    }

    /// Newly elected: the former leader's scaler instances, for this node's scaler to continue
    /// with rather than launch again (none when instances die with their node).
    package mutating func adopt(registry: [HostPort: RegistryEntry]) -> [ScalingInstance] {
        guard adoptsInstances else { return [] }
        var instances: [ScalingInstance] = []
        for (address, entry) in registry.sorted(by: { $0.key < $1.key }) where entry.origin == .scaler && entry.state != .draining {
            own.insert(address)
            instances.append(ScalingInstance(providerID: entry.providerID.isEmpty ? address.description : entry.providerID, address: address))
        }
        return instances
    }

    /// Newly elected: what this node's scaler runs goes into the registry; scaler entries of a
    /// former leader that this node does not run (they died with it) are removed.
    package mutating func elected(pool: [BackendInfo], registry: [HostPort: RegistryEntry], now: Date) -> [RegistryAction] {
        var actions: [RegistryAction] = []
        for backend in pool where isScalerInstance(backend.address) {
            own.insert(backend.address)
            actions.append(.upsert(backend.address, RegistryEntry(state: backend.state, since: now, origin: .scaler)))
        }
        for (address, entry) in registry.sorted(by: { $0.key < $1.key }) where entry.origin == .scaler && !own.contains(address) {
            actions.append(.remove(address))
        }
        return actions
    }

    /// A member that is neither a static backend nor one taken from the registry: the scaler's.
    private func isScalerInstance(_ address: HostPort) -> Bool {
        hasScaler && !staticBackends.contains(address) && !fromRegistry.contains(address)
    }

    private mutating func forget(_ address: HostPort) {
        fromRegistry.remove(address)
        own.remove(address)
    }
}
