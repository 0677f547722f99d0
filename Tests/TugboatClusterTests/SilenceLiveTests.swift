import Foundation
import TestSupport
import Testing
import TugboatRedis

@testable import TugboatCluster

/// Silences shared through one real redis-server by two in-process nodes.
@Suite("Shared silences live", .serialized, .timeLimit(.minutes(1)))
struct SilenceLiveTests {
    func silence(ends: Date, rule: String = "front-down") -> SharedSilence {
        SharedSilence(matchers: ["rule": rule], starts: Date(), ends: ends, comment: "deploy", createdBy: "ops", createdAt: Date())
    }

    @Test("a silence created through one node is listed by another; expired through the second, it has ended for both")
    func createListExpire() async throws {
        try await withRedisServer { server in
            try await withNodes(server, count: 2) { nodes in
                let (a, b) = (nodes[0].node, nodes[1].node)
                try await waitUntil("both nodes connected") { a.redisIsUp && b.redisIsUp }
                let created = try await a.createSilence(silence(ends: Date().addingTimeInterval(3600)))
                let second = try await a.createSilence(silence(ends: Date().addingTimeInterval(60), rule: "other"))
                #expect(created.id == 1 && second.id == 2)
                let listed = try await b.silences(endedAfter: Date())
                #expect(listed == [created, second])

                try await withRedis(server) { redis in
                    #expect(try await redis.send(["GET", "tugboat:web:silence-id"]).int == 2)
                    let json = try #require(try await redis.send(["HGET", "tugboat:web:silences", "1"]).string)
                    #expect(json.contains(#""matchers":{"rule":"front-down"}"#) && json.contains(#""created_by":"ops""#), "\(json)")
                }

                let now = Date()
                #expect(try await b.expireSilence(id: created.id, at: now))
                #expect(try await b.expireSilence(id: created.id, at: now) == false, "already ended")
                #expect(try await b.expireSilence(id: 99, at: now) == false, "no such silence")
                #expect(try await a.silences(endedAfter: Date()).map(\.id) == [second.id])
                let history = try await a.silences(endedAfter: now.addingTimeInterval(-86_400))
                #expect(history.map(\.id) == [1, 2])
                #expect(history.first?.ends == ClusterTime.milliseconds(now))
            }
        }
    }

    @Test("bounds: unreadable and oversized entries are skipped, old ended ones deleted, and more than 10,000 refused")
    func bounds() async throws {
        try await withRedisServer { server in
            try await withNodes(server, count: 1) { nodes in
                let node = nodes[0].node
                try await waitUntil("connected") { node.redisIsUp }
                let kept = try await node.createSilence(silence(ends: Date().addingTimeInterval(3600)))
                let old = try await node.createSilence(silence(ends: Date().addingTimeInterval(60)))
                #expect(try await node.expireSilence(id: old.id, at: Date().addingTimeInterval(-2 * 86_400)))
                try await withRedis(server) { redis in
                    _ = try await redis.send(["HSET", "tugboat:web:silences", "50", "{broken", "51", String(repeating: "x", count: 70_000), "x", "{}"])
                    #expect(try await node.silences(endedAfter: .distantPast).map(\.id) == [kept.id])
                    #expect(try await node.expireSilence(id: 51, at: Date()) == false, "an oversized entry is no silence")
                    // The ended one is gone; the unreadable ones are left for a person to look at.
                    #expect(try await redis.send(["HEXISTS", "tugboat:web:silences", "\(old.id)"]).int == 0)
                    #expect(try await redis.send(["HLEN", "tugboat:web:silences"]).int == 4)

                    let fill = "for i = 1, 9996 do redis.call('HSET', KEYS[1], 'f' .. i, '{}') end return 1"
                    _ = try await redis.send(["EVAL", fill, "1", "tugboat:web:silences"])
                    #expect(try await redis.send(["HLEN", "tugboat:web:silences"]).int == 10_000)
                    #expect(try await node.silences(endedAfter: .distantPast).map(\.id) == [kept.id], "10,000 are read")
                    await #expect(throws: ClusterError.limit("10000 silences stored, at most 10000")) {
                        try await node.createSilence(silence(ends: Date().addingTimeInterval(60)))
                    }
                    _ = try await redis.send(["HSET", "tugboat:web:silences", "f10001", "{}"])
                    await #expect(throws: ClusterError.limit("10001 silences stored, at most 10000 are read")) {
                        try await node.silences(endedAfter: .distantPast)
                    }
                }
                var huge = silence(ends: Date().addingTimeInterval(60))
                huge.comment = String(repeating: "c", count: 70_000)
                await #expect(throws: ClusterError.self) { try await node.createSilence(huge) }
            }
        }
    }

    @Test("Redis down: every silence call fails at once with redisUnavailable")
    func redisDown() async throws {
        try await withRedisServer { server in
            try await withNodes(server, count: 1) { nodes in
                let node = nodes[0].node
                try await waitUntil("connected") { node.redisIsUp }
                server.kill()
                try await waitUntil("disconnected") { !node.redisIsUp }
                let clock = ContinuousClock()
                let start = clock.now
                await #expect(throws: ClusterError.self) { try await node.silences(endedAfter: Date()) }
                await #expect(throws: ClusterError.self) { try await node.createSilence(silence(ends: Date().addingTimeInterval(60))) }
                await #expect(throws: ClusterError.self) { try await node.expireSilence(id: 1, at: Date()) }
                #expect(clock.now - start < .seconds(1))
            }
        }
    }
}
