import Foundation
import Logging
import ServiceLifecycle
import TugboatCluster
import TugboatCore
import TugboatProxy
import TugboatScaling

/// Joins this node to the shared pool in Redis.
///
/// - Every node applies the registry to its own pool: an address that appears is added (and health
///   checked here, so it serves once healthy); one marked `draining` or gone is drained and removed.
///   While Redis is unreachable nothing changes: the node keeps serving the last pool it knew.
/// - The leader publishes what its scaler does: instances its scaler added or removed go into the
///   registry with the leader's epoch (a stale leader's write is refused), with their health state.
/// - Leadership switches the scaler on and off (`Scaler.setLeading`).
struct ClusterBridge: Service {
    let node: ClusterNode
    let pool: Pool
    let membership: PoolMembership
    let signals: SignalBus
    let staticBackends: Set<HostPort>
    let scaler: Scaler?
    /// Whether the scaler's instances outlive their node (exec, docker), so a new leader adopts the
    /// registry's; process instances die with the node that started them.
    let adoptsRegistryInstances: Bool
    let logger: Logger

    func run() async throws {
        let state = BridgeState()
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await snapshot in node.snapshots().cancelOnGracefulShutdown() {
                    await apply(snapshot, state: state)
                }
            }
            group.addTask {
                for await change in node.leadershipChanges().cancelOnGracefulShutdown() {
                    switch change {
                    case .elected(let epoch):
                        logger.info("cluster: this node leads", metadata: ["cluster.epoch": "\(epoch)"])
                        await scaler?.setLeading(true, adopting: await adoptable(state: state))
                        await publishOwnInstances(state: state)
                    case .steppedDown(let reason):
                        logger.warning("cluster: this node no longer leads", metadata: ["reason": "\(reason)"])
                        await scaler?.setLeading(false)
                    }
                }
            }
            group.addTask {
                for await signal in signals.subscribe().cancelOnGracefulShutdown() {
                    await publish(signal, state: state)
                }
            }
        }
    }

    /// The registry → this node's pool.
    private func apply(_ snapshot: RegistrySnapshot, state: BridgeState) async {
        let local = Set(await pool.snapshot.backends.map(\.address))
        for (address, entry) in snapshot.instances where !staticBackends.contains(address) {
            if entry.state == .draining {
                if local.contains(address) { _ = await membership.drainAndRemove(address) }
            } else if !local.contains(address), await !state.isOwn(address) {
                await state.markFromRegistry(address)
                _ = await membership.add(address)
            }
        }
        for address in await state.fromRegistry where snapshot.instances[address] == nil {
            await state.forget(address)
            if local.contains(address) { _ = await membership.drainAndRemove(address) }
        }
    }

    /// The leader's scaler → the registry.
    private func publish(_ signal: Signal, state: BridgeState) async {
        guard node.isLeader else { return }
        switch signal {
        case .backendAdded(let address) where await isScalerInstance(address, state: state):
            await state.markOwn(address)
            await write(address, RegistryEntry(state: .starting, origin: .scaler))
        case .backendStateChanged(let address, _, let to, _) where await state.isOwn(address):
            await write(address, RegistryEntry(state: to, origin: .scaler))
        case .backendRemoved(let address) where await state.isOwn(address):
            await state.forget(address)
            do {
                _ = try await node.remove(address, epoch: node.epoch)
            } catch {
                logger.warning("cluster: registry removal refused", metadata: ["backend.address": "\(address)", "error": "\(error)"])
            }
        default:
            break
        }
    }

    /// The former leader's scaler instances, to continue with rather than launch again.
    private func adoptable(state: BridgeState) async -> [ScalingInstance] {
        guard adoptsRegistryInstances, let snapshot = try? await node.readRegistry() else { return [] }
        var instances: [ScalingInstance] = []
        for (address, entry) in snapshot.instances where entry.origin == .scaler && entry.state != .draining {
            await state.markOwn(address)
            instances.append(ScalingInstance(providerID: entry.providerID.isEmpty ? address.description : entry.providerID, address: address))
        }
        return instances
    }

    /// Newly elected: what this node's scaler runs goes into the registry; scaler entries of a
    /// former leader that this node does not run (they died with it) are removed.
    private func publishOwnInstances(state: BridgeState) async {
        guard let snapshot = try? await node.readRegistry() else { return }
        for backend in await pool.snapshot.backends where await isScalerInstance(backend.address, state: state) {
            await state.markOwn(backend.address)
            await write(backend.address, RegistryEntry(state: backend.state, origin: .scaler))
        }
        for (address, entry) in snapshot.instances where entry.origin == .scaler {
            if await !state.isOwn(address) { _ = try? await node.remove(address, epoch: node.epoch) }
        }
    }

    /// A member that is neither a static backend nor one taken from the registry: the scaler's.
    private func isScalerInstance(_ address: HostPort, state: BridgeState) async -> Bool {
        guard scaler != nil, !staticBackends.contains(address) else { return false }
        return await !state.fromRegistry.contains(address)
    }

    private func write(_ address: HostPort, _ entry: RegistryEntry) async {
        do {
            _ = try await node.upsert(address, entry, epoch: node.epoch)
        } catch {
            logger.warning("cluster: registry write refused", metadata: ["backend.address": "\(address)", "error": "\(error)"])
        }
    }
}

/// Which members came from the registry and which this node's scaler runs.
private actor BridgeState {
    private(set) var fromRegistry: Set<HostPort> = []
    private var own: Set<HostPort> = []

    func markFromRegistry(_ address: HostPort) { fromRegistry.insert(address) }
    func markOwn(_ address: HostPort) { own.insert(address) }
    func isOwn(_ address: HostPort) -> Bool { own.contains(address) }
    func forget(_ address: HostPort) {
        fromRegistry.remove(address)
        own.remove(address)
    }
}
