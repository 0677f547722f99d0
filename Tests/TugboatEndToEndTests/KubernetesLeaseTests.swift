import Foundation
import Testing

@Suite("Kubernetes leader Lease end to end (contract server)", .serialized)
struct KubernetesLeaseTests {
    func leading(_ tugboat: TugboatUnderTest) -> Bool {
        ((try? TestHTTPClient.get(port: tugboat.adminPort, "/metrics").bodyText) ?? "").contains("tugboat_scaling_leading 1")
    }

    @Test("state: kubernetes: two replicas elect one leader on the Lease, and after a kill -9 of the leader the other takes over")
    func takeoverAfterKill() throws {
        let kube = try KubeContractServer(replicas: 1)
        let scaling = kube.scalingYAML("  min: 1\n  max: 3\n  target-rps: 30", fields: ", lease-duration: 3s")
        let health = "{ path: /health, interval: 200ms, timeout: 500ms, rise: 1, fall: 2 }"
        let a = try TugboatUnderTest(backends: [], extraTop: scaling, health: health, redis: "kubernetes", node: "node-a")
        let b = try TugboatUnderTest(backends: [], extraTop: scaling, health: health, redis: "kubernetes", node: "node-b")
        try waitUntilBlocking(timeout: .seconds(15), "exactly one leader") { leading(a) != leading(b) }
        let (leader, follower, leaderName) = leading(a) ? (a, b, "node-a") : (b, a, "node-b")
        #expect(try kube.leaseHolder() == leaderName)
        // It stays that way: the follower does not take a lease that is being renewed.
        try waitUntilBlocking(timeout: .seconds(10), "two more renewals by the leader") { kube.count("update leases") >= 3 }
        #expect(leading(leader) && !leading(follower))

        leader.child.signal(SIGKILL)
        _ = leader.child.waitForExit()
        let killed = Date()
        try waitUntilBlocking(timeout: .seconds(15), "the follower leads") { leading(follower) }
        let takeover = Date().timeIntervalSince(killed)
        print("kubernetes lease: takeover \(String(format: "%.2f", takeover)) s after kill -9 (lease 3 s, attempts every 1 s)")
        // The lease must lapse unrenewed for its whole duration by the follower's clock, then the
        // next attempt (every ttl/3) takes it.
        #expect(takeover < 3 + 2 * 1 + 0.5)
        #expect(try kube.leaseHolder() == (leaderName == "node-a" ? "node-b" : "node-a"))
        #expect(kube.replicas == 1, "the takeover does not repeat a scaling step")

        // A graceful stop gives the lease back at once.
        follower.child.signal(SIGTERM)
        let status = follower.child.waitForExit()
        #expect(status == 0, "\(follower.child.lines.suffix(40).joined(separator: "\n"))")
        #expect(try kube.leaseHolder() == "")
    }

    func healthy(_ tugboat: TugboatUnderTest) throws -> Set<String> {
        Set(try tugboat.pool().filter { $0["state"] as? String == "healthy" }.compactMap { $0["address"] as? String })
    }

    func requests(_ tugboat: TugboatUnderTest) throws -> [String: Int] {
        Dictionary(try tugboat.pool().compactMap { b in (b["address"] as? String).map { ($0, b["requests"] as? Int ?? 0) } }) { $1 }
    }

    @Test("state: kubernetes: the follower's pool follows the leader's scale steps 1 → 3 → 1: new pods join healthy and serve, leaving ones drain")
    func followerFollowsScaleSteps() throws {
        let kube = try KubeContractServer(replicas: 1)
        let scaling = kube.scalingYAML("  min: 1\n  max: 3\n  target-rps: 30\n  window: 2s\n  cooldown-up: 1s\n  stabilize-down: 3s",
                                       fields: ", lease-duration: 3s")
        let health = "{ path: /health, interval: 200ms, timeout: 500ms, rise: 1, fall: 2 }"
        // The pod is ready before either replica starts: both adopt it at start.
        try waitUntilBlocking(timeout: .seconds(15), "the first pod ready") {
            (try kube.state()["pods"] as? [[String: Any]] ?? []).contains { $0["ready"] as? Bool == true }
        }
        let a = try TugboatUnderTest(backends: [], extraPool: "  drain: 3s", extraTop: scaling, health: health, redis: "kubernetes", node: "node-a")
        let b = try TugboatUnderTest(backends: [], extraPool: "  drain: 3s", extraTop: scaling, health: health, redis: "kubernetes", node: "node-b")
        try waitUntilBlocking(timeout: .seconds(15), "exactly one leader") { leading(a) != leading(b) }
        let (leader, follower) = leading(a) ? (a, b) : (b, a)
        try waitUntilBlocking(timeout: .seconds(30), "the running pod in both pools") {
            try healthy(leader).count == 1 && healthy(follower) == healthy(leader)
        }

        // A load step on the leader: it patches the replicas, and the follower's pool follows.
        let load = LoadLoop(port: leader.port)
        try waitUntilBlocking(timeout: .seconds(60), "three pods serving on the leader") { try healthy(leader).count == 3 }
        let step = Date()
        try waitUntilBlocking(timeout: .seconds(15), "the follower's pool shows the same three pods healthy") {
            try healthy(follower) == healthy(leader)
        }
        print("kubernetes follower: \(String(format: "%.2f", Date().timeIntervalSince(step))) s after the leader to three healthy pods")
        #expect(kube.replicas == 3)
        #expect(!leading(follower))

        // The follower sends its own traffic to every pod, the new ones included.
        let before = try requests(follower)
        let served = Trickle(port: follower.port)
        try waitUntilBlocking(timeout: .seconds(20), "every pod served requests through the follower") {
            let now = try requests(follower)
            return now.count == 3 && now.allSatisfy { address, count in count > before[address, default: 0] }
        }
        #expect(served.failures == [], "\(served.failures)")

        // Scale-down: Kubernetes takes two pods away, and both pools drain them with no failed request.
        load.finish()
        #expect(load.failures == 0)
        try waitUntilBlocking(timeout: .seconds(60), "back to one pod in both pools") {
            try kube.replicas == 1 && leader.pool().count == 1 && follower.pool().count == 1
        }
        served.finish()
        #expect(served.failures == [], "\(served.failures)")
        #expect(try healthy(follower) == healthy(leader))
        let events = try follower.admin("/api/scaling/events") as? [[String: Any]] ?? []
        for event in events { print("  follower: \(event["state"] ?? "") \(event["from"] ?? "")→\(event["to"] ?? "") \(event["reason"] ?? "")") }
        #expect(events.contains { $0["state"] as? String == "DRAINING" && ($0["reason"] as? String ?? "").contains("taking") },
                "the follower drained the pods Kubernetes took away")
        #expect(events.filter { $0["state"] as? String == "READY" }.count >= 3, "the follower's pool counted each pod ready")
    }
}
