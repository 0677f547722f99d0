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
}
