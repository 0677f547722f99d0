import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TugboatCluster
import TugboatCore
import TugboatProxy
import TugboatScaling

/// Joins this node to the shared pool in Redis: carries out what the pure ``RegistryReconciler``
/// decides.
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
        let state = ReconcilerState(RegistryReconciler(staticBackends: staticBackends, hasScaler: scaler != nil,
                                                       adoptsInstances: adoptsRegistryInstances))
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
                        let registry = try? await node.readRegistry()
                        let adopted = registry.map { registry in state.step { $0.adopt(registry: registry.instances) } } ?? []
                        await scaler?.setLeading(true, adopting: adopted)
                        await publishOwnInstances(state: state)
                    case .steppedDown(let reason):
                        logger.warning("cluster: this node no longer leads", metadata: ["reason": "\(reason)"])
                        await scaler?.setLeading(false)
                    }
                }
            }
            group.addTask {
                for await signal in signals.subscribe().cancelOnGracefulShutdown() {
                    let isLeader = node.isLeader
                    if let action = state.step({ $0.publish(signal, isLeader: isLeader, now: Date()) }) {
                        await write(action)
                    }
                }
            }
        }
    }

    /// The registry → this node's pool.
    private func apply(_ snapshot: RegistrySnapshot, state: ReconcilerState) async {
        let local = Set(await pool.snapshot.backends.map(\.address))
        for action in state.step({ $0.reconcile(registry: snapshot.instances, pool: local) }) {
            switch action {
            case .add(let address): _ = await membership.add(address)
            case .drainAndRemove(let address): _ = await membership.drainAndRemove(address)
            }
        }
    }

    /// Newly elected: what this node's scaler runs goes into the registry, dead scaler entries out.
    private func publishOwnInstances(state: ReconcilerState) async {
        guard let registry = try? await node.readRegistry() else { return }
        let backends = await pool.snapshot.backends
        for action in state.step({ $0.elected(pool: backends, registry: registry.instances, now: Date()) }) {
            await write(action)
        }
    }

    private func write(_ action: RegistryReconciler.RegistryAction) async {
        do {
            switch action {
            case .upsert(let address, let entry): _ = try await node.upsert(address, entry, epoch: node.epoch)
            case .remove(let address): _ = try await node.remove(address, epoch: node.epoch)
            }
        } catch {
            logger.warning("cluster: registry write refused", metadata: ["backend.address": "\(action.address)", "error": "\(error)"])
        }
    }
}

/// The bridge's reconciler, shared by its three loops; each step runs under the lock, the I/O after.
private final class ReconcilerState: Sendable {
    private let reconciler: Mutex<RegistryReconciler>

    init(_ reconciler: RegistryReconciler) { self.reconciler = Mutex(reconciler) }

    func step<Result: Sendable>(_ body: (inout RegistryReconciler) -> Result) -> Result {
        reconciler.withLock { body(&$0) }
    }
}
