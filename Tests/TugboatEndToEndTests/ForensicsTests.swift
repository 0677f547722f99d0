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
        alerts:
          retry: { first: 100ms, max: 300ms }
          timeout: 1s
          startup-grace: 0s
          group: { wait: 0s }
        """ + "\n" + contract.channelsYAML() + """

          rules:
            - { name: crash, condition: instance-exited, channels: [sms, hook] }
        """
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken])
        var instance = ""
        try waitUntil(timeout: 30, "the instance serving") {
            instance = try tugboat.pool().first { $0["state"] as? String == "healthy" }?["address"] as? String ?? ""
            return !instance.isEmpty
        }
        let load = LoadLoop(port: tugboat.port, path: "/work?ms=5")
        try waitUntil(timeout: 30, "two seconds of load") { load.done > 300 }
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

        try waitUntil(timeout: 30, "the SMS and the webhook") { try contract.accepted("sms").count >= 1 && contract.accepted("hook").count >= 1 }
        load.finish()
        let sms = try #require((contract.accepted("sms")[0]["fields"] as? [String: String])?["Body"])
        #expect(sms.contains("crash: instance \(instance) exited on its own"), "\(sms)")
        let link = try #require(sms.range(of: "Flame graph: ").map { String(sms[$0.upperBound...].prefix { $0 != " " }) }, "no link in: \(sms)")
        #expect(link.hasPrefix("http://127.0.0.1:\(tugboat.adminPort)/api/incidents/") && link.contains("/flamegraph?key="), "\(link)")
        let hookBody = try #require(contract.accepted("hook")[0]["body"] as? String)
        let hook = try #require(try JSONSerialization.jsonObject(with: Data(hookBody.utf8)) as? [String: Any])
        #expect(hook["flamegraph"] as? String == link)

        // The link opens without the bearer token (it carries its key) once the capture is stored.
        let path = String(link.dropFirst("http://127.0.0.1:\(tugboat.adminPort)".count))
        var svg = "", status = 0
        do {
            try waitUntil(timeout: 30, "the flame graph behind the link") {
                let response = try TestHTTPClient(port: tugboat.adminPort).request("GET", path, headers: ["Connection": "close"])
                (status, svg) = (response.status, String(decoding: response.body, as: UTF8.self))
                // An unhealthy capture may be stored first; the exit's capture replaces it behind the link.
                return response.status == 200 && svg.contains("exited on its own")
            }
        } catch {
            // What the link gave last, and what Tugboat said about captures: the evidence for a
            // failure that is seen only under load.
            let captures = tugboat.child.lines.filter { $0.contains("flame graph") || $0.contains("capture") }.suffix(8)
            throw TestFailure("\(error); last answer \(status): \(svg.prefix(300)); log: \(captures.joined(separator: " | "))")
        }
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
