import Foundation
import Testing

/// Crash forensics end to end: a real `tugboat serve` running demo-app instances under perf, the
/// `tugboat-contract` stand-in receiving the pages.
@Suite("Crash forensics end to end", .serialized)
struct ForensicsTests {
    @Test("a demo app killed through /crash under load: an incident whose flame graph names its hot function, linked from the SMS and the webhook")
    func crashUnderLoad() throws {
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/perf"), "needs linux-perf (apt-get install linux-perf)")
        let contract = try ContractServer()
        let (scaling, _) = ScalingTests.processScaling("  min: 1\n  max: 1\n  target-rps: 1000")
        let top = scaling + """

        profiling: { source: perf, rate: 99, window: 5s }
        """ + "\n" + CrashPages.alertsYAML(contract)
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken])
        var instance = ""
        try waitUntilBlocking(timeout: .seconds(30), "the instance serving") {
            instance = try tugboat.pool().first { $0["state"] as? String == "healthy" }?["address"] as? String ?? ""
            return !instance.isEmpty
        }
        let load = LoadLoop(port: tugboat.port, path: "/work?ms=5")
        try waitUntilBlocking(timeout: .seconds(30), "two seconds of load") { load.done > 300 }
        let port = try #require(Int(instance.split(separator: ":").last ?? ""))

        // On demand, while it lives: the last window, stored as a profile.
        let captured = try TestHTTPClient(port: tugboat.adminPort).request(
            "POST", "/api/instances/\(instance)/profile", headers: ["Connection": "close", "Content-Type": "application/json"], body: "")
        #expect(captured.status == 201, "\(String(decoding: captured.body, as: UTF8.self))")
        let profile = try #require(try JSONSerialization.jsonObject(with: Data(captured.body)) as? [String: Any])
        let onDemand = try TestHTTPClient(port: tugboat.adminPort).request("GET", "/api/profiles/\(profile["id"] as? Int ?? 0)",
                                                                          headers: ["Connection": "close"])
        #expect(String(decoding: onDemand.body, as: UTF8.self).contains("burnCPU"))

        _ = try? TestHTTPClient(port: port).request("GET", "/crash", headers: ["Connection": "close"])

        let (_, link, svg) = try CrashPages.flameGraph(of: instance, tugboat: tugboat, contract: contract)
        load.finish()
        #expect(link.hasPrefix("http://127.0.0.1:\(tugboat.adminPort)/api/incidents/") && link.contains("/flamegraph?key="), "\(link)")
        let hookBody = try #require(contract.accepted("hook")[0]["body"] as? String)
        let hook = try #require(try JSONSerialization.jsonObject(with: Data(hookBody.utf8)) as? [String: Any])
        #expect(hook["flamegraph"] as? String == link)
        let path = String(link.dropFirst("http://127.0.0.1:\(tugboat.adminPort)".count))
        #expect(svg.hasPrefix("<?xml") && svg.contains("<svg"))
        #expect(svg.contains("burnCPU"), "the demo app's hot function is in the flame graph")
        #expect(svg.contains("exited on its own"))

        let id = try #require(path.split(separator: "/").dropFirst(2).first.map(String.init))
        let incident = try #require(try tugboat.admin("/api/incidents/\(id)") as? [String: Any])
        #expect(incident["rule"] as? String == "crash")
        #expect(incident["flamegraph"] as? String == link)
        let folded = try TestHTTPClient(port: tugboat.adminPort).request("GET", path + "&format=folded", headers: ["Connection": "close"])
        #expect(String(decoding: folded.body, as: UTF8.self).split(separator: "\n").contains { $0.contains("burnCPU") })
        tugboat.stop()
    }

    @Test("a capture tool missing on the machine is a clear warning at start-up, not a crash")
    func missingToolWarns() throws {
        let tugboat = try TugboatUnderTest(backends: [], extraTop: "profiling: { source: py-spy }",
                                           environment: ["PATH": "/nonexistent"])
        let warning = try tugboat.child.waitForLine { $0.contains("py-spy") }
        #expect(warning.contains("not found") && warning.contains("crash flame graphs are off"), "\(warning)")
        #expect(try tugboat.pool().isEmpty)  // still serving its API
        let response = try TestHTTPClient(port: tugboat.adminPort).request(
            "POST", "/api/instances/127.0.0.1:9/profile", headers: ["Connection": "close", "Content-Type": "application/json"], body: "")
        #expect(response.status == 409)
        tugboat.stop()
    }
}
