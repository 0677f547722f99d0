import Foundation
import TugboatAdmin
import TugboatCluster
import TugboatCore

/// The admin API's cluster calls, on the registry: any node may add or remove a backend for all.
struct ClusterAdmin: ClusterAdministration {
    let node: ClusterNode
    /// How long a removed backend drains on every node before it leaves the registry.
    let drain: Duration

    func statusJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(node.status)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    var metricsStatus: (leader: Bool, redisUp: Bool, epoch: UInt64) { (node.isLeader, node.redisIsUp, node.epoch) }

    func addBackend(_ address: HostPort) async throws -> Bool {
        if let entry = try await node.readRegistry().instances[address], entry.state != .draining { return false }
        _ = try await node.upsert(address, RegistryEntry(state: .starting, origin: .admin))
        return true
    }

    func removeBackend(_ address: HostPort) async throws -> Bool {
        guard let entry = try await node.readRegistry().instances[address] else { return false }
        _ = try await node.upsert(address, RegistryEntry(state: .draining, providerID: entry.providerID, origin: entry.origin))
        // Every node drains it now; it leaves the registry once the drain time has passed.
        let node = self.node, drain = self.drain
        Task {
            try? await Task.sleep(for: drain)
            _ = try? await node.remove(address)
        }
        return true
    }
}
