import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TugboatCore
import TugboatRedis

/// One Tugboat node's membership in a cluster that shares a pool through Redis: the shared
/// instance registry (every node reads it), the leader lease (exactly one node scales and
/// pages), page claims, the open-incidents mirror and the silences. See `ClusterKeys` for the
/// Redis layout.
///
/// A `Service`: `run()` owns the Redis connections, the registry reader and the lease loop;
/// on graceful shutdown it releases the lease (so another node takes over at once) and returns.
/// Cancelling `run()` without a graceful shutdown behaves like a crash: the lease expires after
/// its TTL.
///
/// Redis outages never block the caller: the registry keeps its last snapshot (the stream stops
/// changing), a leader steps down once it cannot renew for `ttl - margin`, writes fail at once
/// with `ClusterError.redisUnavailable`, and after the reconnect the state is re-read and a
/// leader elected again. If Redis comes back empty (restart without persistence) the node with
/// the highest registry version writes its snapshot back.
package final class ClusterNode: Service, Sendable {
    /// This node's id (the lease's value): default `hostname-pid`.
    package let nodeID: String
    package let keys: ClusterKeys
    package let timing: LeaseTiming

    let client: RedisClient
    let subscriber: RedisSubscriber
    let logger: Logger
    let resyncInterval: Duration
    let clock = ContinuousClock()

    let registry = Broadcast<RegistrySnapshot>()
    let leadership = Broadcast<LeadershipChange>()
    let state = Mutex(NodeState())
    let leaseInputs: AsyncStream<LeaseStateMachine<ContinuousClock.Instant>.Event>
    let leaseContinuation: AsyncStream<LeaseStateMachine<ContinuousClock.Instant>.Event>.Continuation
    let registryInputs: AsyncStream<RegistryInput>
    let registryContinuation: AsyncStream<RegistryInput>.Continuation

    struct NodeState {
        var leaderEpoch: UInt64?
        /// Highest epoch seen in Redis (acquire replies); new terms are elected above it.
        var highestEpoch: UInt64 = 0
        /// The lease holder as last read from Redis; nil when unknown (Redis down) or free.
        var holder: String?
        /// Test hook: the lease loop ignores everything (a frozen process).
        var leaseFrozen = false
        /// Unreadable silences already warned about (`field: reason`), so each is logged once.
        var unreadableSilences: Set<String> = []
    }

    /// - Parameters:
    ///   - configuration: where Redis is. Its `commandTimeout` is capped at 1 s here, so that a
    ///     stalled Redis fails writes quickly (replies from a healthy Redis take milliseconds).
    ///   - pool: the pool name in the keys (`tugboat:<pool>:…`).
    ///   - nodeID: the value of the lease key; unique per node. Default `hostname-pid`.
    ///   - timing: lease TTL and step-down margin (defaults 3 s and 500 ms).
    ///   - resyncInterval: how often the whole registry is re-read besides pub/sub nudges.
    package init(
        configuration: RedisConfiguration,
        pool: String,
        nodeID: String = ClusterNode.defaultNodeID,
        timing: LeaseTiming = LeaseTiming(),
        resyncInterval: Duration = .seconds(3),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        var configuration = configuration
        configuration.commandTimeout = min(configuration.commandTimeout, .seconds(1))
        if configuration.clientName == nil { configuration.clientName = "tugboat-\(nodeID)" }
        var logger = logger
        logger[metadataKey: "cluster.node"] = "\(nodeID)"
        logger[metadataKey: "cluster.pool"] = "\(pool)"
        self.nodeID = nodeID
        self.keys = ClusterKeys(pool: pool)
        self.timing = timing
        self.resyncInterval = resyncInterval
        self.logger = logger
        self.client = RedisClient(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        self.subscriber = RedisSubscriber(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger)
        (self.leaseInputs, self.leaseContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
        (self.registryInputs, self.registryContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    /// `hostname-pid`.
    package static var defaultNodeID: String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Runs until graceful shutdown (then releases the lease) or cancellation; call it once.
    package func run() async throws {
        // Subscribe first (registered now, confirmed on connect); `.resynced` then reads the state.
        try? await self.subscriber.subscribe([self.keys.channel])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.subscriber.run() }
            group.addTask { await self.registryLoop() }
            await withGracefulShutdownHandler {
                await self.leaseLoop()
            } onGracefulShutdown: {
                self.leaseContinuation.yield(.shutdown)
            }
            self.registryContinuation.finish()
            self.subscriber.close()
            self.client.close()
            group.cancelAll()
        }
        self.registry.finish()
        self.leadership.finish()
    }

    /// Releases the lease (if held) and ends `run()`, as a graceful shutdown of the service
    /// group does.
    package func shutdown() {
        self.leaseContinuation.yield(.shutdown)
    }

    // MARK: - Status

    /// True while this node holds the lease (and has renewed it within `ttl - margin`).
    package var isLeader: Bool { self.state.withLock { $0.leaderEpoch != nil } }

    /// This node's term while it leads; otherwise the highest epoch seen in Redis.
    package var epoch: UInt64 { self.state.withLock { $0.leaderEpoch ?? $0.highestEpoch } }

    /// The node id holding the lease, as last read from Redis (at least every `ttl / 3`);
    /// `nil` when the lease is free or Redis is unreachable.
    package var leader: String? { self.state.withLock { $0.leaderEpoch != nil ? self.nodeID : $0.holder } }

    /// Whether the command connection to Redis is up.
    package var redisIsUp: Bool { self.client.isConnected }

    /// What `GET /api/cluster` reports.
    package var status: ClusterStatus {
        ClusterStatus(node: self.nodeID, leader: self.leader, epoch: self.epoch, redis: self.redisIsUp ? .up : .down)
    }

    /// The last registry snapshot read (kept while Redis is down); `nil` before the first read.
    package var current: RegistrySnapshot? { self.registry.latest }

    /// The current snapshot (if any), then each snapshot with a new version. Each call makes a
    /// new stream; it ends when `run()` returns.
    package func snapshots() -> AsyncStream<RegistrySnapshot> { self.registry.stream() }

    /// The latest leadership change (if any), then every change. Each call makes a new stream;
    /// it ends when `run()` returns.
    package func leadershipChanges() -> AsyncStream<LeadershipChange> { self.leadership.stream() }
}

/// A change of this node's leadership.
package enum LeadershipChange: Sendable, Hashable {
    /// This node leads from now on in term `epoch`; pass `epoch` to leader writes.
    case elected(epoch: UInt64)
    /// This node no longer leads: stop scaling and paging at once.
    case steppedDown(StepDownReason)
}

/// `GET /api/cluster`: `{"mode":"cluster","node":"…","leader":"…"|null,"epoch":3,"redis":"up"|"down"}`
/// (a node alone answers `{"mode":"single"}`).
package struct ClusterStatus: Sendable, Hashable, Encodable {
    package enum Redis: String, Sendable, Hashable, Codable {
        case up
        case down
    }

    package var node: String
    package var leader: String?
    package var epoch: UInt64
    package var redis: Redis

    enum CodingKeys: String, CodingKey { case mode, node, leader, epoch, redis }

    package init(node: String, leader: String?, epoch: UInt64, redis: Redis) {
        self.node = node
        self.leader = leader
        self.epoch = epoch
        self.redis = redis
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("cluster", forKey: .mode)
        try container.encode(self.node, forKey: .node)
        try container.encode(self.leader, forKey: .leader)  // null, not absent
        try container.encode(self.epoch, forKey: .epoch)
        try container.encode(self.redis, forKey: .redis)
    }
}
