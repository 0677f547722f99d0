import Foundation
import Testing

@Suite("Autoscaling end to end", .serialized)
struct ScalingTests {
    /// A `scaling:` section running demo-app instances on a random block of 50 ports, plus `settings`.
    static func processScaling(_ settings: String) -> (yaml: String, ports: ClosedRange<Int>) {
        let base = 20_000 + Int.random(in: 0..<400) * 50
        let yaml = """
        scaling:
          provider: { process: { command: "\(tugboatExecutable) demo-app --port {port}", ports: \(base)-\(base + 49) } }
        \(settings)
        """
        return (yaml, base...(base + 49))
    }

    @Test("the process provider scales from min to max under a load step and back to min after it, with no failed request")
    func processProviderScalesUpAndDown() throws {
        let (scaling, ports) = Self.processScaling("  min: 1\n  max: 3\n  target-rps: 30\n  window: 2s\n  cooldown-up: 1s\n  stabilize-down: 3s")
        let tugboat = try TugboatUnderTest(backends: [], extraPool: "  drain: 2s", extraTop: scaling,
                                           health: "{ path: /health, interval: 200ms, timeout: 500ms, rise: 1, fall: 2 }")
        func healthy() throws -> [String] {
            try tugboat.pool().filter { $0["state"] as? String == "healthy" }.compactMap { $0["address"] as? String }
        }
        try waitUntilBlocking(timeout: .seconds(30), "the first instance (min 1)") { try healthy().count == 1 }

        let load = LoadLoop(port: tugboat.port)
        try waitUntilBlocking(timeout: .seconds(60), "three instances serving under load") { try healthy().count == 3 }
        try waitUntilBlocking("requests reaching the new instances") { load.done > 200 }
        load.finish()
        #expect(load.failures == 0)
        try waitUntilBlocking(timeout: .seconds(60), "back to one instance") { try tugboat.pool().count == 1 }

        let events = try tugboat.admin("/api/scaling/events") as? [[String: Any]] ?? []
        let states = Set(events.compactMap { $0["state"] as? String })
        #expect(states.isSuperset(of: ["BUSY", "READY", "UP", "DRAINING", "IDLE"]), "\(states)")
        #expect(events.contains { $0["from"] as? Int == 1 && $0["to"] as? Int == 2 })
        #expect(events.allSatisfy { $0["at"] is String && $0["reason"] is String })
        let metrics = try TestHTTPClient.get(port: tugboat.adminPort, "/metrics").bodyText
        #expect(metrics.contains("tugboat_scaling_instances{state=\"ready\"} 1"), "the scaler is in /metrics")
        #expect(metrics.contains("tugboat_scaling_leading 1"))

        // Graceful stop: the instances do not outlive Tugboat.
        tugboat.child.signal(SIGTERM)
        #expect(tugboat.child.waitForExit() == 0)
        try waitUntilBlocking("instances stopped") { ports.allSatisfy { (try? TestHTTPClient(port: $0)) == nil } }
    }

    @Test("process instances do not outlive Tugboat, even when it is killed with SIGKILL")
    func instancesDieWithTugboat() throws {
        let (scaling, ports) = Self.processScaling("  min: 2\n  max: 2\n  target-rps: 30")
        let tugboat = try TugboatUnderTest(backends: [], extraTop: scaling,
                                           health: "{ path: /health, interval: 100ms, timeout: 500ms, rise: 1, fall: 2 }")
        try waitUntilBlocking(timeout: .seconds(30), "two instances serving") {
            try tugboat.pool().filter { $0["state"] as? String == "healthy" }.count == 2
        }
        let serving = ports.filter { (try? TestHTTPClient(port: $0)) != nil }
        #expect(serving.count == 2)
        tugboat.child.signal(SIGKILL)
        _ = tugboat.child.waitForExit()
        try waitUntilBlocking(timeout: .seconds(5), "instances gone with Tugboat") { serving.allSatisfy { (try? TestHTTPClient(port: $0)) == nil } }
    }

    @Test("scale to zero: a request arriving at zero instances is held until one is ready, then served (no 5xx)")
    func coldStartFromZero() throws {
        let (scaling, _) = Self.processScaling(
            "  min: 0\n  max: 2\n  target-rps: 30\n  window: 2s\n  panic-window: 1s\n  stabilize-down: 1s\n  idle-to-zero: 2s"
        )
        let tugboat = try TugboatUnderTest(backends: [], extraPool: "  drain: 1s", extraTop: scaling,
                                           health: "{ path: /health, interval: 100ms, timeout: 500ms, rise: 1, fall: 2 }")
        #expect(try tugboat.pool().isEmpty)
        for round in 1...2 {
            let started = Date()
            let response = try TestHTTPClient(port: tugboat.port, timeout: 30).request("GET", "/echo", headers: ["Connection": "close"])
            print("cold start \(round): \(String(format: "%.2f", Date().timeIntervalSince(started))) s to the first response")
            #expect(response.status == 200)
            #expect(response.header("x-backend")?.hasPrefix("127.0.0.1:") == true)
            // Idle: back to zero instances, ready for the next cold start.
            try waitUntilBlocking(timeout: .seconds(30), "scaled back to zero") { try tugboat.pool().isEmpty }
        }
        tugboat.child.signal(SIGTERM)
        #expect(tugboat.child.waitForExit() == 0)
    }
}
