import Foundation
import Testing

/// examples/ansible driven by the exec provider: real `ansible-playbook` runs (Debian's ansible,
/// its community.docker collection) start and remove real containers on the dockerd that
/// scripts/test.sh starts, under load. Beside it, the same load step with the docker provider.
@Suite("Ansible playbooks through the exec provider", .serialized,
       .enabled(if: DockerHost.available, "needs a docker daemon and busybox-static (scripts/test.sh starts and installs them)"))
struct AnsibleScalingTests {
    /// The scaling settings both load steps share: one instance idle, three under load.
    static func scaling(_ provider: String) -> String {
        """
        scaling:
          provider: \(provider)
          min: 1
          max: 3
          target-rps: 30
          window: 2s
          cooldown-up: 1s
          stabilize-down: 3s
          start-timeout: 2m
        """
    }

    /// The exec provider with the example's scripts; `env` on top of the pool label.
    static func exec(pool: String, env: [String: String] = [:], timeout: String = "2m") -> String {
        let variables = (["TUGBOAT_POOL": pool].merging(env) { $1 }).sorted { $0.key < $1.key }
            .map { "\($0.key): \"\($0.value)\"" }.joined(separator: ", ")
        return "{ exec: { up: \"\(DockerHost.examples)/up.sh\", down: \"\(DockerHost.examples)/down.sh\", timeout: \(timeout), env: { \(variables) } } }"
    }

    static func healthy(_ tugboat: TugboatUnderTest) throws -> [[String: Any]] {
        try tugboat.pool().filter { $0["state"] as? String == "healthy" }
    }

    static func events(_ tugboat: TugboatUnderTest) throws -> [[String: Any]] {
        try tugboat.admin("/api/scaling/events") as? [[String: Any]] ?? []
    }

    /// The load step: one instance, then load until three serve (each getting requests), then back
    /// to one. `containers` (by label) are counted all along; no request may fail. Returns the
    /// seconds from the start of the load to the first new instance serving.
    static func loadStep(_ tugboat: TugboatUnderTest, containers: () throws -> [String]) throws -> Double {
        try waitUntilBlocking(timeout: .seconds(120), "the first instance (min 1)") { try healthy(tugboat).count == 1 }
        #expect(try containers().count == 1)

        let load = LoadLoop(port: tugboat.port)
        let started = Date()
        var firstNewServing = 0.0
        try waitUntilBlocking(timeout: .seconds(120), "a second instance serving under load") {
            guard try healthy(tugboat).count >= 2 else { return false }
            firstNewServing = Date().timeIntervalSince(started)
            return true
        }
        try waitUntilBlocking(timeout: .seconds(120), "three instances serving, each with requests") {
            let serving = try healthy(tugboat)
            return serving.count == 3 && serving.allSatisfy { ($0["requests"] as? Int ?? 0) > 0 }
        }
        #expect(try containers().count == 3, "three containers with the pool's label")
        load.finish()
        #expect(load.failures == 0, "\(load.failures) failed of \(load.done + load.failures) requests")
        #expect(load.done > 0)

        try waitUntilBlocking(timeout: .seconds(120), "back to one instance and one container, the scaler idle") {
            try tugboat.pool().count == 1 && containers().count == 1 && events(tugboat).last?["state"] as? String == "IDLE"
        }
        return firstNewServing
    }

    @Test("a load step through up.sh/down.sh: Ansible starts containers and removes them, no request fails, the events come in order")
    func ansibleLoadStep() throws {
        try DockerHost.requireAnsible()
        try DockerHost.buildImage()
        let pool = "ansible-\(UUID().uuidString.prefix(8).lowercased())"
        defer { DockerHost.removeContainers(pool: pool) }
        let tugboat = try TugboatUnderTest(backends: [], extraPool: "  drain: 2s", extraTop: Self.scaling(Self.exec(pool: pool)))
        defer { tugboat.stop() }

        let seconds = try Self.loadStep(tugboat) { try DockerHost.containers(pool: pool) }
        print("ansible: the first new instance served \(String(format: "%.1f", seconds)) s after the load step")

        let events = try Self.events(tugboat)
        #expect(events.allSatisfy { $0["failed"] as? Bool == false }, "\(events)")
        // From one: launching more (at once or one by one), ready, watching the rate, draining back
        // to one, stopped.
        let steps: [(String, ([String: Any]) -> Bool)] = [
            ("BUSY 1→more", { $0["state"] as? String == "BUSY" && $0["from"] as? Int == 1 && ($0["to"] as? Int ?? 0) > 1 }),
            ("READY", { $0["state"] as? String == "READY" }),
            ("UP", { $0["state"] as? String == "UP" }),
            ("DRAINING from 3", { $0["state"] as? String == "DRAINING" && $0["from"] as? Int == 3 && ($0["to"] as? Int ?? 3) < 3 }),
            ("IDLE at 1", { $0["state"] as? String == "IDLE" && $0["to"] as? Int == 1 }),
        ]
        var rest = events[...]
        for (name, matches) in steps {
            guard let index = rest.firstIndex(where: matches) else {
                Issue.record("no \(name) in order in \(events.map { "\($0["state"] ?? "") \($0["from"] ?? "")→\($0["to"] ?? "")" })")
                break
            }
            rest = rest[(index + 1)...]
        }
        #expect(events.last?["state"] as? String == "IDLE" && events.last?["to"] as? Int == 1)
    }

    @Test("the same load step with the docker provider, for comparison")
    func dockerLoadStep() throws {
        try DockerHost.buildImage()
        // The docker provider labels its containers tugboat.pool=default.
        let before = Set(try DockerHost.containers(pool: "default"))
        let tugboat = try TugboatUnderTest(backends: [], extraPool: "  drain: 2s",
                                           extraTop: Self.scaling("{ docker: { image: \(DockerHost.image), port: 80 } }"))
        func started() throws -> [String] { try DockerHost.containers(pool: "default").filter { !before.contains($0) } }
        defer {
            tugboat.stop()
            for id in (try? started()) ?? [] { _ = try? Shell.run("docker rm -f \(id)") }
        }
        let seconds = try Self.loadStep(tugboat, containers: started)
        print("docker: the first new instance served \(String(format: "%.1f", seconds)) s after the load step")
        #expect(try Self.events(tugboat).allSatisfy { $0["failed"] as? Bool == false })
    }
}
