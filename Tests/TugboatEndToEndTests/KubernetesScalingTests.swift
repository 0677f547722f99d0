import Foundation
import Testing

@Suite("Kubernetes provider end to end (contract server)", .serialized)
struct KubernetesScalingTests {
    static let health = "{ path: /health, interval: 200ms, timeout: 500ms, rise: 1, fall: 2 }"

    func healthy(_ tugboat: TugboatUnderTest) throws -> [String] {
        try tugboat.pool().filter { $0["state"] as? String == "healthy" }.compactMap { $0["address"] as? String }
    }

    @Test("a load step 1 → 3 → 1 through the Deployment's scale, with a dropped watch and a 410 re-list, and no failed request")
    func loadStep() throws {
        let kube = try KubeContractServer(replicas: 1)
        let tugboat = try TugboatUnderTest(
            backends: [], extraPool: "  drain: 3s",
            extraTop: kube.scalingYAML("  min: 1\n  max: 3\n  target-rps: 30\n  window: 2s\n  cooldown-up: 1s\n  stabilize-down: 3s"),
            health: Self.health)
        try waitUntilBlocking(timeout: .seconds(30), "the running pod adopted") { try healthy(tugboat).count == 1 }
        #expect(kube.replicas == 1, "starting Tugboat does not change the replica count")

        let load = LoadLoop(port: tugboat.port)
        let step = Date()
        try waitUntilBlocking(timeout: .seconds(60), "three pods serving under load") { try healthy(tugboat).count == 3 }
        print("kubernetes load step: \(String(format: "%.2f", Date().timeIntervalSince(step))) s from the load step to three pods serving")
        #expect(kube.replicas == 3)
        #expect(kube.count("patch deployments/scale") >= 1)

        // The watch breaks mid-stream: resumed from the last resourceVersion, no new list.
        let lists = kube.count("list endpointslices"), watches = kube.count("watch endpointslices")
        #expect(try kube.control("break-watches") == 200)
        try waitUntilBlocking("the watch resumed") { kube.count("watch endpointslices") > watches && kube.watchers == 1 }
        #expect(kube.count("list endpointslices") == lists, "a broken stream resumes without listing again")

        // The history is compacted and the stream dropped: the resumed watch gets 410 and lists again.
        try kube.control("expire", #"{"as":"event"}"#)
        try kube.control("break-watches")
        try waitUntilBlocking("410, then a new list and watch") {
            kube.count("410") >= 1 && kube.count("list endpointslices") > lists && kube.watchers == 1
        }
        try waitUntilBlocking("requests reaching the new pods") { load.done > 300 }
        load.finish()
        #expect(load.failures == 0)

        // A trickle of requests while Kubernetes takes two pods away: each is drained as soon as
        // its endpoint is terminating, so none of these fails either.
        let trickle = Trickle(port: tugboat.port)
        try waitUntilBlocking(timeout: .seconds(60), "back to one pod") { try kube.replicas == 1 && healthy(tugboat).count == 1 && tugboat.pool().count == 1 }
        trickle.finish()
        #expect(trickle.failures == [], "\(trickle.failures)")
        #expect(trickle.done > 10)

        let events = try tugboat.admin("/api/scaling/events") as? [[String: Any]] ?? []
        print("kubernetes load step: \(load.done) requests under load, \(trickle.done) while scaling down; contract counts \(try kube.state()["counts"] ?? [:])")
        for event in events { print("  \(event["state"] ?? "") \(event["from"] ?? "")→\(event["to"] ?? "") \(event["reason"] ?? "")") }
        let states = Set(events.compactMap { $0["state"] as? String })
        #expect(states.isSuperset(of: ["BUSY", "READY", "UP", "DRAINING", "IDLE"]), "\(states)")
        #expect(events.contains { ($0["reason"] as? String ?? "").contains("the platform picked") }, "Kubernetes picked the pods that left")

        // Stopping Tugboat leaves the replica count alone.
        tugboat.child.signal(SIGTERM)
        #expect(tugboat.child.waitForExit() == 0)
        #expect(kube.replicas == 1)
        #expect(kube.watchers == 0)
    }

    @Test("pool.discover.kubernetes: the pool follows the Service's endpoints as someone else scales, and Tugboat never scales")
    func discoveryOnly() throws {
        let kube = try KubeContractServer(replicas: 2)
        let tugboat = try TugboatUnderTest(backends: [], extraPool: kube.discoverYAML + "\n  drain: 2s", health: Self.health)
        try waitUntilBlocking(timeout: .seconds(30), "both endpoints in the pool and healthy") { try healthy(tugboat).count == 2 }
        let load = LoadLoop(port: tugboat.port)
        try kube.scale(to: 3)
        try waitUntilBlocking(timeout: .seconds(30), "the third endpoint serving") { try healthy(tugboat).count == 3 }
        try kube.scale(to: 1)
        try waitUntilBlocking(timeout: .seconds(30), "the pool down to one") { try tugboat.pool().count == 1 }
        try waitUntilBlocking("requests served meanwhile") { load.done > 100 }
        load.finish()
        #expect(load.failures == 0)
        #expect(kube.count("patch deployments/scale") == 2, "only the test's own two patches: discovery does not scale")
    }

    @Test("a 403 on the scale subresource is a failed scaling event naming the verb and resource; the token never shows")
    func forbiddenScale() throws {
        let kube = try KubeContractServer(replicas: 1)
        try kube.control("fail", #"{"status":403,"count":1000,"method":"PATCH"}"#)
        // min 2: the scaler asks for a second replica and is refused.
        let tugboat = try TugboatUnderTest(
            backends: [], extraTop: kube.scalingYAML("  min: 2\n  max: 2\n  target-rps: 30"), health: Self.health)
        try waitUntilBlocking(timeout: .seconds(30), "the running pod adopted") { try healthy(tugboat).count == 1 }
        try waitUntilBlocking(timeout: .seconds(30), "a failed event") {
            let events = try tugboat.admin("/api/scaling/events") as? [[String: Any]] ?? []
            return events.contains { $0["failed"] as? Bool == true && ($0["reason"] as? String ?? "").contains("verb 'patch' on resource 'deployments/scale'") }
        }
        let events = try tugboat.admin("/api/scaling/events") as? [[String: Any]] ?? []
        #expect(!events.contains { ($0["reason"] as? String ?? "").contains(KubeContractServer.token) })
        #expect(kube.replicas == 1, "nothing was changed")
        tugboat.child.signal(SIGTERM)
        _ = tugboat.child.waitForExit()
        #expect(!tugboat.child.lines.contains { $0.contains(KubeContractServer.token) }, "the token is not in the log")
    }
}

/// One request every 50 ms on a new connection, on a thread of its own, until finished.
final class Trickle: @unchecked Sendable {
    private let lock = NSLock()
    private var _done = 0, _failures: [String] = [], stopped = false
    private let group = DispatchGroup()

    init(port: Int) {
        DispatchQueue.global().async(group: group) { [self] in
            while !lock.withLock({ stopped }) {
                do {
                    let status = try TestHTTPClient.get(port: port, "/").status
                    lock.withLock { if status == 200 { _done += 1 } else { _failures.append("status \(status)") } }
                } catch {
                    lock.withLock { _failures.append("\(error)") }
                }
                usleep(50_000)
            }
        }
    }

    var done: Int { lock.withLock { _done } }
    var failures: [String] { lock.withLock { _failures } }

    func finish() {
        lock.withLock { stopped = true }
        group.wait()
    }
}
