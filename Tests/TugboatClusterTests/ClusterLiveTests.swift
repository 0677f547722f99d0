import Foundation
import TestSupport
import Testing
import TugboatCore
import TugboatRedis

@testable import TugboatCluster

/// Three in-process nodes on one real redis-server per test. Serialized: the timing bounds
/// (propagation < 1 s, takeover < 5 s) are what is being tested.
@Suite("Cluster live", .serialized, .timeLimit(.minutes(1)))
struct ClusterLiveTests {
    @Test("a change made by one node is seen by all three within 1 s; the layout is what the README says")
    func propagation() async throws {
        try await withRedisServer { server in
            try await withNodes(server) { nodes in
                try await waitUntil("every node read the registry") { nodes.allSatisfy { $0.node.current != nil } }
                let before = nodes.map { $0.node.current?.version }

                let clock = ContinuousClock()
                let start = clock.now
                let version = try await nodes[1].node.upsert(address(9001), entry(provider: "pid-42"))
                try await waitUntil("all nodes see 9001", timeout: .seconds(1)) {
                    nodes.allSatisfy { $0.node.current?.instances[address(9001)] == entry(provider: "pid-42") }
                }
                let latency = clock.now - start
                print("cluster: registry change seen by all 3 nodes after \(latency)")
                #expect(latency < .seconds(1))
                #expect(nodes.allSatisfy { $0.node.current?.version == version })
                #expect(before.allSatisfy { ($0 ?? 0) < version })

                let start2 = clock.now
                #expect(try await nodes[2].node.remove(address(9001)))
                #expect(try await nodes[2].node.remove(address(9001)) == false)
                try await waitUntil("all nodes see 9001 gone", timeout: .seconds(1)) {
                    nodes.allSatisfy { $0.node.current?.instances.isEmpty == true }
                }
                print("cluster: removal seen by all 3 nodes after \(clock.now - start2)")

                try await nodes[0].node.upsert(address(9002), entry(.starting, origin: .scaler, provider: "c1"))
                try await withRedis(server) { redis in
                    let json = try await redis.send(["HGET", "tugboat:web:instances", "127.0.0.1:9002"]).string
                    #expect(json == #"{"origin":"scaler","provider_id":"c1","since":"2025-01-31T12:00:00Z","state":"starting"}"#)
                    #expect(try await redis.send(["GET", "tugboat:web:count"]).int == 1)
                    #expect(try await redis.send(["GET", "tugboat:web:version"]).int == Int(version) + 2)
                }
            }
        }
    }

    @Test("the leader stops renewing: another node leads within 5 s in a higher epoch; the stale leader's writes are refused")
    func takeoverAfterFrozenLeader() async throws {
        try await withRedisServer { server in
            try await withNodes(server) { nodes in
                try await waitUntil("one leader") { leaders(nodes).count == 1 }
                let old = leaders(nodes)[0]
                let oldEpoch = old.node.epoch
                try await waitUntil("every node names the leader") { nodes.allSatisfy { $0.node.leader == old.node.nodeID } }  // followers read it every second

                let clock = ContinuousClock()
                let frozenAt = clock.now
                old.node.freezeLease(true)  // a stopped process: no renewals, no local step-down
                try await waitUntil("another node leads", timeout: .seconds(5)) {
                    nodes.contains { $0 !== old && $0.node.isLeader }
                }
                let takeover = clock.now - frozenAt
                print("cluster: takeover after the leader stopped renewing: \(takeover)")
                #expect(takeover < .seconds(5))
                let new = nodes.first { $0 !== old && $0.node.isLeader }!
                #expect(new.node.epoch > oldEpoch)
                #expect(old.node.isLeader, "frozen, it still believes it leads: fencing must stop it")

                await #expect(throws: ClusterError.staleEpoch(write: oldEpoch, current: new.node.epoch)) {
                    try await old.node.upsert(address(9100), entry(origin: .scaler), epoch: oldEpoch)
                }
                await #expect(throws: ClusterError.staleEpoch(write: oldEpoch, current: new.node.epoch)) {
                    try await old.node.remove(address(9100), epoch: oldEpoch)
                }
                try await new.node.upsert(address(9100), entry(origin: .scaler), epoch: new.node.epoch)
                try await old.node.upsert(address(9101), entry(origin: .admin))  // admin writes need no lease

                old.node.freezeLease(false)
                try await waitUntil("the old leader steps down", timeout: .seconds(2)) { !old.node.isLeader }
                try await waitUntil("every node names the new leader", timeout: .seconds(2)) {
                    nodes.allSatisfy { $0.node.leader == new.node.nodeID }
                }
                #expect(leaders(nodes).count == 1)
                var changes = new.node.leadershipChanges().makeAsyncIterator()
                #expect(await changes.next() == .elected(epoch: new.node.epoch))
            }
        }
    }

    @Test("claimPage is true once in the whole cluster; the incidents mirror survives a crash of the leader")
    func pagesAndIncidentsAcrossTakeover() async throws {
        try await withRedisServer { server in
            try await withNodes(server) { nodes in
                try await waitUntil("one leader") { leaders(nodes).count == 1 }
                let old = leaders(nodes)[0]
                let oldEpoch = old.node.epoch

                let firedAt = Date(timeIntervalSince1970: 1_738_324_800.123)
                let key = IncidentKey(rule: "front-down", target: "front", firedAt: firedAt)
                #expect(key.description == "front-down|front|2025-01-31T12:00:00.123Z")
                let claims = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for node in nodes {
                        group.addTask { try await node.node.claimPage(key, channel: "call", kind: "trigger") }
                    }
                    return try await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                #expect(claims.filter { $0 }.count == 1)
                for node in nodes {
                    #expect(try await node.node.claimPage(key, channel: "call", kind: "trigger") == false)
                }
                #expect(try await nodes[2].node.claimPage(key, channel: "sms", kind: "trigger"))
                #expect(try await nodes[0].node.claimPage(key, channel: "sms", kind: "resolve"))

                let incident = OpenIncident(state: .firing, firedAt: firedAt, node: old.node.nodeID)
                try await old.node.recordIncident(rule: "front-down", target: "front", incident, epoch: oldEpoch)
                try await withRedis(server) { redis in
                    let json = try await redis.send(["HGET", "tugboat:web:incidents", "front-down|front"]).string
                    #expect(json == #"{"fired_at":"2025-01-31T12:00:00.123Z","node":""# + old.node.nodeID + #"","state":"firing"}"#)
                    let ttl = try await redis.send(["PTTL", "tugboat:page:\(key):call:trigger"]).int ?? 0
                    #expect(ttl > 6 * 24 * 3600 * 1000)
                }

                let clock = ContinuousClock()
                let crashedAt = clock.now
                await old.crash()
                let survivors = nodes.filter { $0 !== old }
                try await waitUntil("a survivor leads", timeout: .seconds(5)) { survivors.contains { $0.node.isLeader } }
                print("cluster: takeover after a crash of the leader: \(clock.now - crashedAt)")
                let new = survivors.first { $0.node.isLeader }!
                #expect(new.node.epoch > oldEpoch)

                let open = try await new.node.openIncidents()
                let continued = try #require(open[OpenIncidentID(rule: "front-down", target: "front")])
                #expect(continued == incident)
                let continuedKey = continued.key(rule: "front-down", target: "front")
                #expect(continuedKey == key)
                #expect(try await new.node.claimPage(continuedKey, channel: "call", kind: "trigger") == false, "already paged")

                await #expect(throws: ClusterError.staleEpoch(write: oldEpoch, current: new.node.epoch)) {
                    try await new.node.resolveIncident(rule: "front-down", target: "front", epoch: oldEpoch)
                }
                try await new.node.resolveIncident(rule: "front-down", target: "front", epoch: new.node.epoch)
                #expect(try await new.node.openIncidents().isEmpty)
            }
        }
    }

    @Test("graceful shutdown releases the lease: another node leads at its next attempt")
    func gracefulRelease() async throws {
        try await withRedisServer { server in
            try await withNodes(server, count: 2) { nodes in
                try await waitUntil("one leader") { leaders(nodes).count == 1 }
                let old = leaders(nodes)[0]
                let other = nodes.first { $0 !== old }!
                let clock = ContinuousClock()
                let start = clock.now
                await old.stop()
                try await waitUntil("the other node leads", timeout: .seconds(2)) { other.node.isLeader }
                print("cluster: takeover after a graceful shutdown: \(clock.now - start)")
            }
        }
    }

    @Test("Redis killed and restarted: snapshots kept, redis down, no leader; then re-election and resync")
    func redisOutage() async throws {
        try await withRedisServer { server in
            try await withNodes(server) { nodes in
                try await waitUntil("one leader") { leaders(nodes).count == 1 }
                let leaderEpoch = leaders(nodes)[0].node.epoch
                try await nodes[0].node.upsert(address(9001), entry())
                let version = try await nodes[0].node.upsert(address(9002), entry(.draining))
                try await waitUntil("all nodes at the last version") { nodes.allSatisfy { $0.node.current?.version == version } }
                let snapshot = nodes[0].node.current

                server.kill()
                try await waitUntil("every node reports redis down", timeout: .seconds(2)) {
                    nodes.allSatisfy { $0.node.status.redis == .down }
                }
                // Writes fail fast: refused because Redis is not connected, not after a command timeout.
                let refusedAtOnce = ClusterError.redisUnavailable(RedisError.notConnected.description)
                await #expect(throws: refusedAtOnce) { try await nodes[1].node.upsert(address(9003), entry()) }
                await #expect(throws: refusedAtOnce) {
                    try await nodes[1].node.claimPage(IncidentKey(rule: "r", target: "t", firedAt: Date()), channel: "sms", kind: "trigger")
                }
                let clock = ContinuousClock()
                try await waitUntil("the leader steps down", timeout: .seconds(3)) { leaders(nodes).isEmpty }
                #expect(nodes.allSatisfy { $0.node.current == snapshot }, "the last snapshot is kept")
                try await waitUntil("no node names a leader") { nodes.allSatisfy { $0.node.status.leader == nil } }

                try await server.start()  // same port, empty (no persistence)
                let restarted = clock.now
                try await waitUntil("redis up again", timeout: .seconds(3)) { nodes.allSatisfy { $0.node.status.redis == .up } }
                try await waitUntil("a leader again", timeout: .seconds(5)) { leaders(nodes).count == 1 }
                print("cluster: leader re-elected \(clock.now - restarted) after redis-server restarted")
                #expect(leaders(nodes)[0].node.epoch > leaderEpoch, "terms keep growing although Redis lost the epoch")
                try await withRedis(server) { redis in
                    try await waitUntil("the registry was written back") {
                        try await redis.send(["HLEN", "tugboat:web:instances"]).int == 2
                    }
                    #expect(try await redis.send(["GET", "tugboat:web:version"]).int == Int(version))
                    #expect(try await redis.send(["GET", "tugboat:web:count"]).int == 2)
                }
                #expect(nodes.allSatisfy { $0.node.current == snapshot })

                let next = try await nodes[2].node.upsert(address(9004), entry())
                try await waitUntil("the write after the outage reaches everyone", timeout: .seconds(1)) {
                    nodes.allSatisfy { $0.node.current?.version == next && $0.node.current?.instances.count == 3 }
                }
                let status = nodes[0].node.status
                let json = String(decoding: try JSONEncoder().encode(status), as: UTF8.self)
                #expect(json.contains(#""redis":"up""#) && json.contains(#""node":"node-0""#))
            }
        }
    }
}
