import Foundation
@_exported import TestSupport
import Logging
import TugboatCore
import TugboatRedis

@testable import TugboatCluster

/// One in-process node with its `run()` task.
final class RunningNode: Sendable {
    let node: ClusterNode
    let task: Task<Void, Never>

    init(_ node: ClusterNode) {
        self.node = node
        self.task = Task { try? await node.run() }
    }

    /// Like `kill -9`: connections drop, the lease is not released.
    func crash() async {
        self.task.cancel()
        await self.task.value
    }

    /// Graceful: releases the lease.
    func stop() async {
        self.node.shutdown()
        await self.task.value
    }
}

/// Runs `count` nodes of pool `web` on `server` for the duration of `body`.
func withNodes<T>(
    _ server: RedisTestServer, count: Int = 3, timing: LeaseTiming = LeaseTiming(),
    _ body: ([RunningNode]) async throws -> T
) async throws -> T {
    let nodes = (0..<count).map { index in
        RunningNode(ClusterNode(configuration: server.configuration, pool: "web", nodeID: "node-\(index)", timing: timing, logger: clusterTestLogger))
    }
    do {
        let result = try await body(nodes)
        for node in nodes { await node.stop() }
        return result
    } catch {
        for node in nodes { await node.stop() }
        throw error
    }
}

/// A plain client for looking at Redis directly.
func withRedis<T: Sendable>(_ server: RedisTestServer, _ body: (RedisClient) async throws -> T) async throws -> T {
    let client = RedisClient(configuration: server.configuration, logger: clusterTestLogger)
    let task = Task { await client.run() }
    defer {
        client.close()
        task.cancel()
    }
    try await waitUntil("test client connected") { client.isConnected }
    return try await body(client)
}

func leaders(_ nodes: [RunningNode]) -> [RunningNode] { nodes.filter { $0.node.isLeader } }

func entry(_ state: BackendState = .healthy, origin: RegistryEntry.Origin = .admin, provider: String = "") -> RegistryEntry {
    RegistryEntry(state: state, providerID: provider, since: Date(timeIntervalSince1970: 1_738_324_800), origin: origin)
}

func address(_ port: Int) -> HostPort { HostPort(host: "127.0.0.1", port: port) }

let clusterTestLogger: Logger = {
    var logger = Logger(label: "tugboat.cluster.test")
    logger.logLevel = .critical
    return logger
}()
