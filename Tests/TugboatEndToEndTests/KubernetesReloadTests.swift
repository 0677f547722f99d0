import Foundation
import Testing

// A reload may not switch the Kubernetes objects Tugboat follows: it is refused, and the running
// provider or discovery carries on with the old ones.
extension KubernetesScalingTests {
    @Test("POST /api/reload changing scaling.provider.kubernetes is refused as needing a restart; the old deployment is still scaled")
    func reloadRefusesProviderChange() throws {
        let kube = try KubeContractServer(replicas: 1)
        let tugboat = try TugboatUnderTest(backends: [], extraTop: kube.scalingYAML("  min: 1\n  max: 3\n  target-rps: 1000"), health: Self.health)
        try waitUntilBlocking(timeout: .seconds(30), "the running pod adopted") { try healthy(tugboat).count == 1 }

        // Another deployment and a new minimum in one edit: nothing of it applies.
        try tugboat.editConfig { $0.replacingOccurrences(of: "deployment: web", with: "deployment: api").replacingOccurrences(of: "min: 1", with: "min: 2") }
        let refused = try tugboat.post("/api/reload", body: "")
        #expect(refused.status == 422)
        let error = try tugboat.error(refused.text)
        #expect(error.contains("restart") && error.contains("scaling.provider.kubernetes"), "\(error)")
        #expect(error.contains(tugboat.configPath), "the error names the file: \(error)")
        #expect(kube.count("patch deployments/scale") == 0, "min 2 was not applied")

        // Back to the old deployment, the new minimum alone: it applies, through the old provider.
        try tugboat.editConfig { $0.replacingOccurrences(of: "deployment: api", with: "deployment: web") }
        let applied = try tugboat.post("/api/reload", body: "")
        #expect(applied.status == 200, "\(applied.text)")
        try waitUntilBlocking(timeout: .seconds(30), "deployment web scaled to two, both serving") {
            try kube.replicas == 2 && healthy(tugboat).count == 2
        }
        #expect(tugboat.child.lines.contains { $0.contains("config reload refused") && $0.contains("scaling.provider.kubernetes") })
    }

    @Test("SIGHUP changing pool.discover is refused as needing a restart; the pool keeps following the old service")
    func hangupRefusesDiscoverChange() throws {
        let kube = try KubeContractServer(replicas: 1)
        let tugboat = try TugboatUnderTest(backends: [], extraPool: kube.discoverYAML, health: Self.health)
        try waitUntilBlocking(timeout: .seconds(30), "the endpoint in the pool") { try healthy(tugboat).count == 1 }

        try tugboat.editConfig { $0.replacingOccurrences(of: "service: web", with: "service: api") }
        tugboat.child.signal(SIGHUP)
        let line = try tugboat.child.waitForLine { $0.contains("config reload refused") }
        #expect(line.contains("restart") && line.contains("pool.discover"), "\(line)")

        // Still the old service's endpoints: someone scales web, and the pool follows.
        try kube.scale(to: 2)
        try waitUntilBlocking(timeout: .seconds(30), "the second endpoint of web serving") { try healthy(tugboat).count == 2 }
        #expect(try TestHTTPClient.get(port: tugboat.port, "/").status == 200)
    }
}
