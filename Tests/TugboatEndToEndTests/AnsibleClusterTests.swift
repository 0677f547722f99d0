import Foundation
import Testing

/// examples/ansible with two nodes on one `redis-server`: only the leader runs the playbooks, and
/// a new leader adopts the containers the former one started (their addresses are in the shared
/// registry) instead of starting more.
@Suite("Ansible playbooks with several nodes", .serialized,
       .enabled(if: DockerHost.available, "needs a docker daemon and busybox-static (scripts/test.sh starts and installs them)"))
struct AnsibleClusterTests {
    @Test("two nodes: the leader's playbook starts the one container; after kill -9 of the leader the other node adopts it, no second launch")
    func newLeaderAdoptsTheContainer() async throws {
        try DockerHost.requireAnsible()
        try DockerHost.buildImage()
        let redis = try await RedisTestServer()
        let pool = "cluster-\(UUID().uuidString.prefix(8).lowercased())"
        defer { DockerHost.removeContainers(pool: pool) }
        let top = """
        scaling:
          provider: \(AnsibleScalingTests.exec(pool: pool))
          min: 1
          max: 1
          target-rps: 1000
          start-timeout: 2m
        """
        let nodes = try (1...2).map { try TugboatUnderTest(backends: [], extraTop: top, redis: redis.url, node: "node\($0)") }
        defer { nodes.forEach { $0.stop() } }

        var leader = ""
        try waitUntilBlocking("a leader") { leader = try ClusterTests.agreedLeader(nodes) ?? ""; return !leader.isEmpty }
        let leaderIndex = try #require(Int(leader.dropFirst("node".count))) - 1
        let follower = nodes[1 - leaderIndex]
        var instance = ""
        try waitUntilBlocking(timeout: .seconds(120), "the container healthy on both nodes") {
            let pools = try nodes.map { try AnsibleScalingTests.healthy($0).compactMap { $0["address"] as? String } }
            guard pools[0].count == 1, pools[0] == pools[1] else { return false }
            instance = pools[0][0]
            return true
        }
        let container = try DockerHost.containers(pool: pool)
        #expect(container.count == 1, "one container: only the leader ran scale_up.yml")
        #expect(try AnsibleScalingTests.events(follower).isEmpty, "the follower scaled nothing")

        nodes[leaderIndex].child.signal(SIGKILL)
        try waitUntilBlocking(timeout: .seconds(15), "the other node leading") { try ClusterTests.cluster(follower)["leader"] as? String == "node\(2 - leaderIndex)" }
        try waitUntilBlocking(timeout: .seconds(30), "the new leader adopting the container and settling") {
            let events = try AnsibleScalingTests.events(follower)
            return events.contains { ($0["reason"] as? String)?.contains("adopting 1 running instance(s): \(instance)") == true }
                && events.last?["state"] as? String == "IDLE"
        }
        #expect(try DockerHost.containers(pool: pool) == container, "the same container, no second launch")
        #expect(try follower.pool().compactMap { $0["address"] as? String } == [instance])
        #expect(try TestHTTPClient(port: follower.port).request("GET", "/health", headers: ["Connection": "close"]).status == 200)
    }
}
