import Foundation
import Testing

// Reloads of the sections whose services hold state: alerts (rules and channels), scaling, profiling.
extension ReloadTests {
    /// The `kind` and `rule` of each webhook page the contract server accepted, in order.
    static func hookPages(_ contract: ContractServer, _ channel: String = "hook") throws -> [String] {
        try contract.accepted(channel).compactMap { request in
            let body = request["body"] as? String ?? ""
            let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            return "\(object?["kind"] as? String ?? "?") \(object?["rule"] as? String ?? "?")"
        }
    }

    static func alertsYAML(_ contract: ContractServer, channels: String, rules: String) -> String {
        contract.monitorYAML + "alerts:\n  retry: { first: 100ms, max: 300ms, attempts: 100 }\n  timeout: 1s\n  startup-grace: 0s\n"
            + "  group: { wait: 0s }\n  channels:\n" + channels + "  rules:\n" + rules
    }

    @Test("alerts.rules apply live: an edited rule keeps its open incident (no second page), a new one fires at once, a removed one's incident resolves, and the outage's resolve is sent once")
    func rulesLive() throws {
        let contract = try ContractServer()
        let hook = "    hook: { webhook: { url: \(contract.base)/hook } }\n"
        let frontDown = "    - { name: front-down, monitor: front, condition: down, channels: [hook] }\n"
        let tugboat = try TugboatUnderTest(backends: [], extraTop: Self.alertsYAML(contract, channels: hook, rules: frontDown))
        try contract.setHealth(up: false)
        try waitUntilBlocking("the first page") { try Self.hookPages(contract) == ["trigger front-down"] }
        let first = try #require(try tugboat.incidents().first { $0["rule"] as? String == "front-down" })

        // Edited (a longer `for`, keep-firing-for) and a new rule on the same monitor.
        try tugboat.editConfig {
            $0.replacingOccurrences(of: frontDown, with: "    - { name: front-down, monitor: front, condition: down, for: 1h, keep-firing-for: 0s, channels: [hook] }\n"
                                    + "    - { name: front-still-down, monitor: front, condition: down, channels: [hook] }\n")
        }
        let reply = try tugboat.post("/api/reload", body: "")
        #expect(reply.status == 200, "\(reply.text)")
        #expect(try tugboat.changed(reply.text) == ["alerts.rules"])
        try waitUntilBlocking("the new rule's incident") {
            try tugboat.incidents().contains { $0["rule"] as? String == "front-still-down" && $0["state"] as? String == "firing" }
        }
        let kept = try #require(try tugboat.incidents().first { $0["rule"] as? String == "front-down" })
        #expect(kept["id"] as? Int == first["id"] as? Int && kept["state"] as? String == "firing")
        try contract.waitForChecks(3)
        #expect(try Self.hookPages(contract) == ["trigger front-down"], "the open outage pages nobody again")

        // Removed: its incident resolves at once; the outage still has the other one, so no resolve yet.
        try tugboat.editConfig { text in
            text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("name: front-down,") }.joined(separator: "\n")
        }
        #expect(try tugboat.changed(tugboat.post("/api/reload", body: "").text) == ["alerts.rules"])
        try waitUntilBlocking("the removed rule's incident resolved") {
            try tugboat.incidents().contains { $0["id"] as? Int == first["id"] as? Int && $0["state"] as? String == "resolved" }
        }
        #expect(try Self.hookPages(contract) == ["trigger front-down"])

        try contract.setHealth(up: true)
        try waitUntilBlocking("the outage's resolve") { try Self.hookPages(contract).count == 2 }
        #expect(try Self.hookPages(contract).last?.hasPrefix("resolve ") == true)
        try contract.waitForChecks(3)
        let pages = try Self.hookPages(contract)
        #expect(pages.count == 2, "one trigger, one resolve: \(pages)")
        #expect(tugboat.child.lines.contains { $0.contains("incident resolved") && $0.contains("front-down") && !$0.contains("front-still-down") })
    }

    @Test("alerts.channels apply live: a Twilio channel's new number gets the page; a removed channel's pending page fails visibly; an added channel hears the resolve")
    func channelsLive() throws {
        let contract = try ContractServer()
        let sms = { (to: String) in
            "    sms: { twilio-sms: { account-sid: \(ContractServer.accountSID), auth-token: ${TEST_TWILIO_TOKEN}, from: \"+15550100000\", to: [\"\(to)\"], api-base: \(contract.base) } }\n"
        }
        let hook = "    hook: { webhook: { url: \(contract.base)/hook } }\n"
        let rule = "    - { name: front-down, monitor: front, condition: down, channels: [hook, sms] }\n"
        let tugboat = try TugboatUnderTest(backends: [], extraTop: Self.alertsYAML(contract, channels: sms("+15550100001") + hook, rules: rule),
                                           environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken])
        try contract.waitForChecks(2)

        // A Twilio channel's settings (its number): live, where a restart was needed before.
        try tugboat.editConfig { $0.replacingOccurrences(of: "+15550100001", with: "+15550100002") }
        #expect(try tugboat.changed(tugboat.post("/api/reload", body: "").text) == ["alerts.channels"])

        // Twilio fails for now: the SMS page stays pending, retried.
        try contract.fail("500", count: 100_000)
        try contract.setHealth(up: false)
        try waitUntilBlocking("the webhook page, and SMS attempts to the new number") {
            try Self.hookPages(contract) == ["trigger front-down"] && contract.attempts("sms") >= 2
        }
        #expect(try contract.requests().filter { $0["kind"] as? String == "sms" }.allSatisfy {
            ($0["fields"] as? [String: String])?["To"] == "+15550100002"
        })

        // The SMS channel removed, a Slack channel added: the pending SMS page fails, saying why.
        let slack = "    slack: { slack: { url: \(contract.base)/slack } }\n"
        try tugboat.editConfig {
            $0.replacingOccurrences(of: sms("+15550100002"), with: slack).replacingOccurrences(of: "[hook, sms]", with: "[hook, slack]")
        }
        let reply = try tugboat.post("/api/reload", body: "")
        #expect(try tugboat.changed(reply.text) == ["alerts.rules", "alerts.channels"], "\(reply.text)")
        try waitUntilBlocking("the SMS page failed") {
            try tugboat.notifications().contains { $0["channel"] as? String == "sms" && $0["status"] as? String == "failed" }
        }
        let failed = try #require(try tugboat.notifications().first { $0["channel"] as? String == "sms" })
        #expect(failed["error"] as? String == "channel 'sms' was removed by a config reload", "\(failed)")
        let attempts = try contract.attempts("sms")
        try contract.fail("500", count: 0)

        try contract.setHealth(up: true)
        try waitUntilBlocking("the resolve at the webhook and at the new Slack channel") {
            try Self.hookPages(contract).count == 2 && contract.accepted("slack").count == 1
        }
        #expect(try contract.attempts("sms") == attempts, "nothing more to the removed channel")
    }

    @Test("scaling settings and the provider's settings apply live: min 1 → 2 launches one more instance, on the new port range; another provider kind is refused by name")
    func scalingLive() throws {
        let base = 20_000 + Int.random(in: 0..<200) * 100
        let scaling = { (min: Int, ports: String) in
            "scaling:\n  provider: { process: { command: \"\(tugboatExecutable) demo-app --port {port}\", ports: \(ports) } }\n"
                + "  min: \(min)\n  max: 3\n  target-rps: 1000\n"
        }
        let first = "\(base)-\(base + 49)", second = "\(base + 50)-\(base + 99)"
        let tugboat = try TugboatUnderTest(backends: [], extraPool: "  drain: 1s", extraTop: scaling(1, first),
                                           health: "{ path: /health, interval: 100ms, timeout: 500ms, rise: 1, fall: 2 }")
        func healthy() throws -> [Int] {
            try tugboat.pool().filter { $0["state"] as? String == "healthy" }.compactMap { ($0["address"] as? String)?.split(separator: ":").last.flatMap { Int($0) } }
        }
        try waitUntilBlocking(timeout: .seconds(30), "the first instance") { try healthy().count == 1 }
        #expect(try healthy().allSatisfy { (base...(base + 49)).contains($0) })

        try tugboat.editConfig { $0.replacingOccurrences(of: scaling(1, first), with: scaling(2, second)) }
        let reply = try tugboat.post("/api/reload", body: "")
        #expect(try tugboat.changed(reply.text) == ["scaling.provider", "scaling.min"], "\(reply.text)")
        try waitUntilBlocking(timeout: .seconds(30), "a second instance, on the new range") {
            let ports = try healthy()
            return ports.count == 2 && ports.contains { ((base + 50)...(base + 99)).contains($0) }
        }
        #expect(try TestHTTPClient.get(port: tugboat.port, "/").status == 200)

        try tugboat.editConfig {
            $0.replacingOccurrences(of: "{ process: { command: \"\(tugboatExecutable) demo-app --port {port}\", ports: \(second) } }",
                                    with: "{ exec: { up: ./up.sh, down: ./down.sh } }")
        }
        let refused = try tugboat.post("/api/reload", body: "")
        #expect(refused.status == 422)
        #expect(try tugboat.error(refused.text).hasSuffix("cannot change without a restart: scaling.provider"), "\(refused.text)")
        #expect(try healthy().count == 2)
    }

    @Test("profiling settings apply live: after source perf → push, the instance's pushed stacks are taken and make its flame graph")
    func profilingLive() throws {
        let a = try DemoBackend()
        let tugboat = try TugboatUnderTest(backends: [a.address], extraTop: "profiling: { source: perf, rate: 49, window: 5s }")
        try tugboat.waitHealthy([a.address])
        let stacks = "main;serve;handle 7\nmain;serve;parse 3\n"
        func push() throws -> (status: Int, text: String) {
            let response = try TestHTTPClient(port: tugboat.adminPort).request(
                "POST", "/api/instances/\(a.address)/stacks", headers: ["Connection": "close", "Content-Type": "text/plain"], body: stacks)
            return (response.status, response.bodyText)
        }
        #expect(try push().status == 400, "perf: pushes are not taken")

        try tugboat.editConfig { $0.replacingOccurrences(of: "source: perf, rate: 49", with: "source: push, rate: 49") }
        #expect(try tugboat.changed(tugboat.post("/api/reload", body: "").text) == ["profiling.source"])
        var pushed = (status: 0, text: "")
        try waitUntilBlocking("the push taken") { pushed = try push(); return pushed.status == 202 }
        let captured = try TestHTTPClient(port: tugboat.adminPort).request(
            "POST", "/api/instances/\(a.address)/profile", headers: ["Connection": "close", "Content-Type": "application/json"], body: "")
        #expect(captured.status == 201, "\(captured.bodyText)")
        let profile = try #require(try JSONSerialization.jsonObject(with: Data(captured.body)) as? [String: Any])
        #expect(profile["samples"] as? Int == 10)
        #expect(tugboat.child.lines.contains { $0.contains("profiling settings replaced") })
    }
}
