import Foundation
import Testing

/// Several nodes, one pool: three `tugboat serve` processes and one real `redis-server`.
@Suite("Several nodes end to end", .serialized)
struct ClusterTests {
    static func nodes(_ redis: RedisTestServer, extraTop: String = "", environment: [String: String] = [:]) throws -> [TugboatUnderTest] {
        try (1...3).map { index in
            try TugboatUnderTest(backends: [], extraTop: extraTop, environment: environment, redis: redis.url, node: "node\(index)")
        }
    }

    static func cluster(_ node: TugboatUnderTest) throws -> [String: Any] {
        try node.admin("/api/cluster") as? [String: Any] ?? [:]
    }

    static func addresses(_ node: TugboatUnderTest) throws -> Set<String> {
        Set(try node.pool().compactMap { $0["address"] as? String })
    }

    /// The node every node names as the leader, once they agree.
    static func agreedLeader(_ nodes: [TugboatUnderTest]) throws -> String? {
        let leaders = try nodes.map { try cluster($0)["leader"] as? String }
        guard let first = leaders.first, let leader = first, leaders.allSatisfy({ $0 == leader }) else { return nil }
        return leader
    }

    @Test("a pool change made on one node is seen by every node within a second; removal drains it everywhere")
    func poolChangePropagates() async throws {
        let redis = try await RedisTestServer()
        let nodes = try Self.nodes(redis)
        try waitUntilBlocking("a leader") { try Self.agreedLeader(nodes) != nil }
        let status = try Self.cluster(nodes[0])
        #expect(status["redis"] as? String == "up" && status["node"] as? String == "node1" && (status["epoch"] as? Int ?? 0) >= 1)

        let backend = try DemoBackend()
        let started = Date()
        let added = try TestHTTPClient(port: nodes[0].adminPort).request(
            "POST", "/api/pool/backends", headers: ["Connection": "close", "Content-Type": "application/json"], body: "{\"address\":\"\(backend.address)\"}")
        #expect(added.status == 201)
        try waitUntilBlocking(timeout: .seconds(1), "the backend on all three nodes") { try nodes.allSatisfy { try Self.addresses($0).contains(backend.address) } }
        print("pool change seen by all three nodes after \(String(format: "%.3f", Date().timeIntervalSince(started))) s")
        // Served through every node once healthy there.
        for node in nodes {
            try waitUntilBlocking("healthy on \(node.port)") { try node.state(of: backend.address) == "healthy" }
            #expect(try TestHTTPClient(port: node.port).request("GET", "/echo", headers: ["Connection": "close"]).status == 200)
        }
        let duplicate = try TestHTTPClient(port: nodes[1].adminPort).request(
            "POST", "/api/pool/backends", headers: ["Connection": "close", "Content-Type": "application/json"], body: "{\"address\":\"\(backend.address)\"}")
        #expect(duplicate.status == 409)

        let removed = try TestHTTPClient(port: nodes[2].adminPort).request(
            "DELETE", "/api/pool/backends/\(backend.address)", headers: ["Connection": "close", "Content-Type": "application/json"])
        #expect(removed.status == 202)
        try waitUntilBlocking(timeout: .seconds(10), "the backend gone from all three") { try nodes.allSatisfy { try !Self.addresses($0).contains(backend.address) } }
    }

    @Test("kill -9 of the leader: another node leads within 5 seconds and the incident is paged exactly once")
    func leaderTakeoverPagesOnce() async throws {
        let redis = try await RedisTestServer()
        let contract = try ContractServer()
        let top = contract.monitorYAML + "alerts:\n  retry: { first: 100ms, max: 300ms }\n  timeout: 1s\n  startup-grace: 0s\n  group: { wait: 0s }\n" + contract.channelsYAML()
            + "\n  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [sms] }\n"
        let nodes = try Self.nodes(redis, extraTop: top, environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken])
        var leader = ""
        try waitUntilBlocking("a leader") { leader = try Self.agreedLeader(nodes) ?? ""; return !leader.isEmpty }
        try contract.setHealth(up: false)
        try waitUntilBlocking("the page") { try contract.accepted("sms").count == 1 }

        let leaderIndex = try #require(Int(leader.dropFirst("node".count))) - 1
        let killedAt = Date()
        nodes[leaderIndex].child.signal(SIGKILL)
        let survivors = nodes.indices.filter { $0 != leaderIndex }.map { nodes[$0] }
        var next = ""
        try waitUntilBlocking(timeout: .seconds(5), "another node leading") { next = try Self.agreedLeader(survivors) ?? ""; return !next.isEmpty && next != leader }
        print("leader takeover after \(String(format: "%.2f", Date().timeIntervalSince(killedAt))) s: \(leader) → \(next)")

        // The outage goes on under the new leader: it must not page again.
        try contract.waitForChecks(30)
        #expect(try contract.accepted("sms").count == 1)
        try contract.setHealth(up: true)
        try waitUntilBlocking("the resolved SMS") { try contract.accepted("sms").count == 2 }
        try contract.waitForChecks(10)
        let texts = try contract.accepted("sms").compactMap { ($0["fields"] as? [String: String])?["Body"] }
        #expect(texts.count == 2)
        #expect(texts.first?.contains("FIRING") == true && texts.last?.contains("RESOLVED") == true, "\(texts)")
    }

    @Test("a silence made on a follower holds the leader's page; expired on a third node, the page goes out once")
    func silenceSharedByEveryNode() async throws {
        let redis = try await RedisTestServer()
        let contract = try ContractServer()
        let top = contract.monitorYAML + "alerts:\n  retry: { first: 100ms, max: 300ms }\n  timeout: 1s\n  startup-grace: 0s\n  group: { wait: 0s }\n"
            + contract.channelsYAML() + "\n  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [call, sms] }\n"
        let nodes = try Self.nodes(redis, extraTop: top, environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken])
        var leaderName = ""
        try waitUntilBlocking("a leader") { leaderName = try Self.agreedLeader(nodes) ?? ""; return !leaderName.isEmpty }
        let leaderIndex = try #require(Int(leaderName.dropFirst("node".count))) - 1
        let leader = nodes[leaderIndex]
        let followers = nodes.indices.filter { $0 != leaderIndex }.map { nodes[$0] }

        let ends = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
        let created = try followers[0].post("/api/silences", body: """
            {"matchers": {"rule": "front-down"}, "ends": "\(ends)", "comment": "deploying", "created-by": "ops"}
            """)
        #expect(created.status == 201, "\(created.text)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(created.text.utf8)) as? [String: Any])?["id"] as? Int)
        for node in nodes {
            let listed = try node.admin("/api/silences") as? [[String: Any]] ?? []
            #expect(listed.map { $0["id"] as? Int } == [id] && listed.first?["state"] as? String == "active", "\(listed)")
        }
        // The leader's alert manager re-reads the silences every second.
        _ = try leader.child.waitForLine(timeout: 5) { $0.contains("silence loaded") && $0.contains("silence.id=\(id)") }

        try contract.setHealth(up: false)
        try waitUntilBlocking("the leader's silenced pages") {
            let list = try leader.notifications()
            return list.count == 2 && list.allSatisfy { $0["status"] as? String == "silenced" }
        }
        try contract.waitForChecks(30)
        #expect(try contract.requests().filter { $0["kind"] as? String == "call" || $0["kind"] as? String == "sms" }.isEmpty)

        let expired = try followers[1].post("/api/silences/\(id)", method: "DELETE", body: "")
        #expect(expired.status == 204, "\(expired.text)")
        let expiredAt = Date()
        try waitUntilBlocking(timeout: .seconds(10), "the real page") { try contract.accepted("call").count == 1 && contract.accepted("sms").count == 1 }
        print("page sent \(String(format: "%.2f", Date().timeIntervalSince(expiredAt))) s after the silence was expired on another node")
        try contract.waitForChecks(30)
        #expect(try contract.accepted("call").count == 1 && contract.accepted("sms").count == 1)
        #expect(try contract.requests().filter { $0["kind"] as? String == "call" || $0["kind"] as? String == "sms" }.count == 2)
        for node in nodes {
            let listed = try node.admin("/api/silences") as? [[String: Any]] ?? []
            #expect(listed.first?["state"] as? String == "expired", "\(listed)")
        }
    }

    @Test("redis-server stopped and restarted under load: no request fails on any node")
    func redisOutageUnderLoad() async throws {
        let redis = try await RedisTestServer()
        let alerts = "alerts:\n  startup-grace: 0s\n  group: { wait: 0s }\n  channels:\n    log: { log: {} }\n  rules:\n    - { name: redis-down, monitor: redis, condition: down, channels: [log] }\n"
        let nodes = try Self.nodes(redis, extraTop: alerts)
        let backend = try DemoBackend()
        try waitUntilBlocking("a leader") { try Self.agreedLeader(nodes) != nil }
        _ = try TestHTTPClient(port: nodes[0].adminPort).request(
            "POST", "/api/pool/backends", headers: ["Connection": "close", "Content-Type": "application/json"], body: "{\"address\":\"\(backend.address)\"}")
        for node in nodes { try waitUntilBlocking("healthy on \(node.port)") { try node.state(of: backend.address) == "healthy" } }

        let loads = nodes.map { LoadLoop(port: $0.port, workers: 1, path: "/echo") }
        try waitUntilBlocking("load on every node") { loads.allSatisfy { $0.done > 50 } }
        redis.kill()
        try waitUntilBlocking(timeout: .seconds(10), "every node seeing Redis down") { try nodes.allSatisfy { try Self.cluster($0)["redis"] as? String == "down" } }
        let during = loads.map(\.done)
        try waitUntilBlocking("requests served while Redis is down") { zip(loads, during).allSatisfy { $0.done > $1 + 50 } }
        #expect(try nodes.allSatisfy { try Self.addresses($0).contains(backend.address) })  // the last pool known
        // The outage is an incident of its own (the implicit `redis` monitor), paged by each node.
        try waitUntilBlocking(timeout: .seconds(10), "a redis-down incident on every node") {
            try nodes.allSatisfy { try $0.incidents().contains { $0["rule"] as? String == "redis-down" && $0["state"] as? String == "firing" } }
        }
        try await redis.start()
        try waitUntilBlocking(timeout: .seconds(10), "Redis back and a leader") {
            try nodes.allSatisfy { try Self.cluster($0)["redis"] as? String == "up" } && Self.agreedLeader(nodes) != nil
        }
        for load in loads { load.finish() }
        #expect(loads.map(\.failures) == [0, 0, 0])
        print("requests during the Redis outage test: \(loads.map(\.done)), failures \(loads.map(\.failures))")
        // The registry came back (restored by the node with the highest version).
        try waitUntilBlocking(timeout: .seconds(10), "the backend still in every pool") { try nodes.allSatisfy { try Self.addresses($0).contains(backend.address) } }
    }

    @Test("kill -9 of the leader with the exec provider: the new leader adopts the running instance, no scaling step is repeated")
    func takeoverDoesNotRepeatAScalingStep() async throws {
        let redis = try await RedisTestServer()
        let scaleDir = NSTemporaryDirectory() + "tugboat-cluster-scale-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: scaleDir, withIntermediateDirectories: true)
        defer {
            // The instances outlive Tugboat (exec): stop them through the sample script.
            for file in (try? FileManager.default.contentsOfDirectory(atPath: scaleDir)) ?? [] where file.hasSuffix(".pid") {
                if let pid = Int32((try? String(contentsOfFile: "\(scaleDir)/\(file)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") {
                    kill(pid, SIGKILL)
                }
            }
            try? FileManager.default.removeItem(atPath: scaleDir)
        }
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples").path
        let top = """
        scaling:
          provider: { exec: { up: \(examples)/scale_up.sh, down: \(examples)/scale_down.sh, timeout: 30s,
                              env: { TUGBOAT_BIN: "${TUGBOAT_BIN}", TUGBOAT_SCALE_DIR: "${TUGBOAT_SCALE_DIR}" } } }
          min: 1
          max: 1
          target-rps: 1000
        """
        // Scripts see only what `env:` names of Tugboat's environment (issue 15).
        let nodes = try Self.nodes(redis, extraTop: top, environment: ["TUGBOAT_BIN": tugboatExecutable, "TUGBOAT_SCALE_DIR": scaleDir])
        func launches() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: scaleDir)) ?? []).filter { $0.hasSuffix(".pid") }.count }
        var leader = ""
        try waitUntilBlocking("a leader") { leader = try Self.agreedLeader(nodes) ?? ""; return !leader.isEmpty }
        var instance = ""
        try waitUntilBlocking(timeout: .seconds(30), "the instance healthy on every node") {
            let pools = try nodes.map { try $0.pool().filter { $0["state"] as? String == "healthy" }.compactMap { $0["address"] as? String } }
            guard let first = pools.first, first.count == 1, pools.allSatisfy({ $0 == first }) else { return false }
            instance = first[0]
            return true
        }
        #expect(launches() == 1)

        let leaderIndex = try #require(Int(leader.dropFirst("node".count))) - 1
        nodes[leaderIndex].child.signal(SIGKILL)
        let survivors = nodes.indices.filter { $0 != leaderIndex }.map { nodes[$0] }
        var next = ""
        try waitUntilBlocking(timeout: .seconds(5), "another node leading") { next = try Self.agreedLeader(survivors) ?? ""; return !next.isEmpty && next != leader }
        let newLeader = try #require(survivors.first { $0.child.lines.contains { _ in true } && (try? Self.cluster($0)["node"] as? String) == next })
        try waitUntilBlocking(timeout: .seconds(10), "the new leader adopting the instance") {
            let events = try newLeader.admin("/api/scaling/events") as? [[String: Any]] ?? []
            return events.contains { ($0["reason"] as? String)?.contains("adopting 1 running instance") == true }
        }
        // Its scaler runs with the adopted instance: several ticks, and no second launch.
        try waitUntilBlocking(timeout: .seconds(10), "the new leader settled") {
            let events = try newLeader.admin("/api/scaling/events") as? [[String: Any]] ?? []
            return events.last?["state"] as? String == "IDLE"
        }
        #expect(launches() == 1)
        for node in survivors {
            #expect(try node.pool().compactMap { $0["address"] as? String } == [instance])
        }
    }
}
