import Foundation
import Testing

/// "One outage, one page" end to end: real `tugboat serve`, real demo-app backends, and the
/// `tugboat-contract` Twilio stand-in counting calls and texts.
@Suite("One outage, one page", .serialized)
struct OutageTests {
    let environment = ["TEST_TWILIO_TOKEN": ContractServer.authToken]

    func bodies(_ contract: ContractServer) throws -> [String] {
        try contract.accepted("sms").compactMap { ($0["fields"] as? [String: String])?["Body"] }
    }

    @Test("with the demo's rules, killing both backends (and so the front) makes one call and one SMS, and one resolved SMS when they come back")
    func demoOutagePagesOnce() throws {
        let contract = try ContractServer()
        let port = try freePort()
        var a = try DemoBackend(), b = try DemoBackend()
        let (portA, portB) = (a.port, b.port)
        // The demo's rules (front, backend-down, no-healthy-backends) with its front monitor, faster.
        let top = """
        monitors:
          - { name: front, url: http://127.0.0.1:\(port)/health, interval: 300ms, timeout: 500ms, retries: 2 }
        alerts:
          retry: { first: 100ms, max: 300ms }
          timeout: 1s
          startup-grace: 2s
          group: { by: [pool], wait: 5s }
        \(contract.channelsYAML())
          rules:
            - { name: front-down, monitor: front, condition: down, channels: [call, sms] }
            - { name: backend-down, condition: backend-down, channels: [call, sms] }
            - { name: no-healthy-backends, condition: no-healthy-backends, channels: [call, sms] }
        """
        let tugboat = try TugboatUnderTest(backends: [a.address, b.address], extraTop: top, environment: environment,
                                           listen: "127.0.0.1:\(port)")
        try tugboat.waitHealthy([a.address, b.address])
        a.kill()
        b.kill()
        try waitUntilBlocking(timeout: .seconds(30), "the page") { try contract.accepted("call").count == 1 }
        try waitUntilBlocking(timeout: .seconds(15), "all four incidents firing") {
            try tugboat.incidents().filter { $0["state"] as? String == "firing" }.count == 4
        }
        // The outage goes on: nothing more pages.
        #expect(FrontDoor.holds(for: 4) { (try? contract.accepted("call").count == 1 && contract.accepted("sms").count == 1) ?? false })
        let incidents = try tugboat.incidents()
        let outages = Set(incidents.compactMap { $0["outage"] as? Int })
        #expect(outages.count == 1, "\(incidents)")
        let text = try #require(try bodies(contract).first)
        #expect(text.contains("2 backends down") && text.contains("no healthy backend"), "\(text)")

        a = try DemoBackend(port: portA)
        b = try DemoBackend(port: portB)
        try waitUntilBlocking(timeout: .seconds(30), "the resolved SMS") { try contract.accepted("sms").count == 2 }
        #expect(FrontDoor.holds(for: 3) { (try? contract.accepted("call").count == 1 && contract.accepted("sms").count == 2) ?? false })
        let resolved = try bodies(contract)[1]
        #expect(resolved.contains("RESOLVED"), "\(resolved)")
        #expect(try tugboat.incidents().allSatisfy { $0["state"] as? String == "resolved" })
        _ = (a, b)
    }

    @Test("a restart pages nobody: the front checks before the pool's first checks, and nothing calls")
    func noPageAtStart() throws {
        let contract = try ContractServer()
        let backend = try DemoBackend()
        for _ in 0..<3 {
            let port = try freePort()
            let top = """
            monitors:
              - { name: front, url: http://127.0.0.1:\(port)/health, interval: 100ms, timeout: 500ms }
            alerts:
              timeout: 1s
            \(contract.channelsYAML())
              rules:
                - { name: front-down, monitor: front, condition: down, for: 0s, channels: [call, sms] }
            """
            let tugboat = try TugboatUnderTest(backends: [backend.address], extraTop: top,
                                               health: "{ path: /health, interval: 1s, timeout: 500ms, rise: 2, fall: 2 }",
                                               environment: environment, listen: "127.0.0.1:\(port)")
            try tugboat.waitHealthy([backend.address])
            #expect(FrontDoor.holds(for: 2) { (try? contract.requests().isEmpty) ?? false })
            tugboat.stop()
        }
        #expect(try contract.requests().isEmpty)
    }

    @Test("an outage at start pages once the start-up grace ends")
    func outageAtStartPagesAfterGrace() throws {
        let contract = try ContractServer()
        try contract.setHealth(up: false)
        let top = contract.monitorYAML + "alerts:\n  timeout: 1s\n  startup-grace: 3s\n  group: { wait: 0s }\n" + contract.channelsYAML()
            + "\n  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [call] }\n"
        let started = Date()
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: environment)
        try waitUntilBlocking(timeout: .seconds(20), "the call") { try contract.accepted("call").count == 1 }
        let after = Date().timeIntervalSince(started)
        #expect(after >= 3, "paged \(after) s after start, inside the grace")
        #expect(FrontDoor.holds(for: 2) { (try? contract.accepted("call").count == 1) ?? false })
        _ = tugboat
    }

    @Test("a silence pages nobody and shows in the history as silenced; expiring it while the outage fires pages then")
    func silenced() throws {
        let contract = try ContractServer()
        let top = contract.monitorYAML + "alerts:\n  timeout: 1s\n  startup-grace: 0s\n  group: { wait: 0s }\n" + contract.channelsYAML()
            + "\n  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [call, sms] }\n"
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: environment)
        let created = try tugboat.post("/api/silences", body: """
            {"matchers": {"rule": "front-down"}, "ends": "\(ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600)))", "comment": "deploying", "created-by": "ops"}
            """)
        #expect(created.status == 201, "\(created.text)")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(created.text.utf8)) as? [String: Any])?["id"] as? Int)
        try contract.setHealth(up: false)
        try waitUntilBlocking("the silenced pages in the history") {
            let list = try tugboat.notifications()
            return list.count == 2 && list.allSatisfy { $0["status"] as? String == "silenced" }
        }
        try contract.waitForChecks(10)
        #expect(try contract.requests().filter { $0["kind"] as? String == "call" || $0["kind"] as? String == "sms" }.isEmpty)

        let expired = try tugboat.post("/api/silences/\(id)", method: "DELETE", body: "")
        #expect(expired.status == 204)
        try waitUntilBlocking("the real page") { try contract.accepted("call").count == 1 && contract.accepted("sms").count == 1 }
        let silences = try tugboat.admin("/api/silences") as? [[String: Any]] ?? []
        #expect(silences.first?["state"] as? String == "expired")
    }

    @Test("bad silences are refused with the reason")
    func badSilences() throws {
        let tugboat = try TugboatUnderTest(backends: [], extraTop: "alerts:\n  channels: { log: { log: {} } }\n  rules: []\n")
        let future = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
        let past = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-3600))
        let cases = [
            ("{\"matchers\": {\"host\": \"x\"}, \"ends\": \"\(future)\", \"comment\": \"c\"}", "unknown matcher 'host'"),
            ("{\"matchers\": {}, \"starts\": \"\(future)\", \"ends\": \"\(past)\", \"comment\": \"c\"}", "'ends' must be after 'starts'"),
            ("{\"matchers\": {}, \"ends\": \"\(future)\"}", "'comment' is required"),
            ("{\"matchers\": {}, \"ends\": \"tomorrow\", \"comment\": \"c\"}", "RFC 3339"),
            ("not json", "expected a JSON object"),
        ]
        for (body, reason) in cases {
            let answer = try tugboat.post("/api/silences", body: body)
            #expect(answer.status == 400 && answer.text.contains(reason), "\(body) → \(answer.status) \(answer.text)")
        }
        let huge = try tugboat.post("/api/silences", body: String(repeating: "x", count: 100_000))
        #expect(huge.status == 413)
        #expect(try tugboat.post("/api/silences/999", method: "DELETE", body: "").status == 404)
    }

    @Test("inside a maintenance window nobody is paged; the pages are kept as silenced")
    func maintenanceWindow() throws {
        let contract = try ContractServer()
        let formatter = ISO8601DateFormatter()
        let window = "  maintenance:\n    - { name: move, starts: \"\(formatter.string(from: Date().addingTimeInterval(-60)))\", ends: \"\(formatter.string(from: Date().addingTimeInterval(3600)))\" }\n"
        let top = contract.monitorYAML + "alerts:\n  timeout: 1s\n  startup-grace: 0s\n  group: { wait: 0s }\n" + window + contract.channelsYAML()
            + "\n  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [call, sms] }\n"
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: environment)
        try contract.setHealth(up: false)
        try waitUntilBlocking("the silenced pages") { try tugboat.notifications().count == 2 }
        let held = try tugboat.notifications()
        #expect(held.allSatisfy { $0["status"] as? String == "silenced" && ($0["error"] as? String)?.contains("maintenance window move") == true }, "\(held)")
        try contract.setHealth(up: true)
        try contract.waitForChecks(10)
        #expect(try contract.requests().filter { $0["kind"] as? String == "call" || $0["kind"] as? String == "sms" }.isEmpty)
    }

    @Test("a flapping target pages once, not on every flap")
    func flapping() throws {
        let contract = try ContractServer()
        let top = contract.monitorYAML + "alerts:\n  timeout: 1s\n  startup-grace: 0s\n  group: { wait: 0s }\n  flapping: { changes: 3, window: 10m }\n"
            + contract.channelsYAML() + "\n  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [call] }\n"
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: environment)
        for _ in 0..<6 {
            try contract.setHealth(up: false)
            try contract.waitForChecks(3)
            try contract.setHealth(up: true)
            try contract.waitForChecks(3)
        }
        // Fire, resolve, fire (flapping from here on): two calls, however long it flaps.
        #expect(try contract.accepted("call").count == 2)
        let open = try tugboat.incidents().filter { $0["state"] as? String == "firing" }
        #expect(open.count == 1)
        #expect((open.first?["summary"] as? String)?.contains("flapping") == true)
    }

    /// Has the contract server send Tugboat an SMS reply as Twilio would; Tugboat's answer.
    func reply(_ contract: ContractServer, to tugboat: TugboatUnderTest, body: String, signature: String = "valid") throws -> (status: Int, body: String) {
        let request: [String: String] = [
            "url": "http://127.0.0.1:\(tugboat.adminPort)/api/twilio/sms", "signed-url": "https://tugboat.example.com/api/twilio/sms",
            "from": "+15550100001", "to": "+15550100000", "body": body, "signature": signature,
        ]
        let response = try TestHTTPClient(port: contract.port).request("POST", "/_contract/reply", headers: ["Connection": "close"],
                                                                       body: String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self))
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
        return (object["status"] as? Int ?? 0, object["body"] as? String ?? "")
    }

    @Test("a reply `ACK <code>` to the SMS acknowledges the outage and stops its escalation; a forged reply changes nothing")
    func acknowledgeBySMS() throws {
        let contract = try ContractServer()
        let top = contract.monitorYAML + "alerts:\n  timeout: 1s\n  startup-grace: 0s\n  group: { wait: 0s }\n  public-url: https://tugboat.example.com\n"
            + contract.channelsYAML() + "\n  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [sms], escalate: { after: 3s, channels: [hook] } }\n"
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: environment)
        try contract.setHealth(up: false)
        try waitUntilBlocking("the SMS") { try contract.accepted("sms").count == 1 }
        let text = try #require(try bodies(contract).first)
        let code = try #require(text.range(of: "Reply ACK ").map { text[$0.upperBound...].prefix { $0.isNumber } }, "\(text)")

        let forged = try reply(contract, to: tugboat, body: "ACK \(code)", signature: "wrong")
        #expect(forged.status == 403)
        let unknown = try reply(contract, to: tugboat, body: "ACK 9999")
        #expect(unknown.status == 200 && unknown.body.contains("<Message>"), "\(unknown)")
        let acknowledged = try reply(contract, to: tugboat, body: "ack \(code)")
        #expect(acknowledged.status == 200 && acknowledged.body.contains("Acknowledged"), "\(acknowledged)")

        let outage = try #require((try tugboat.admin("/api/outages") as? [[String: Any]])?.first)
        #expect(outage["state"] as? String == "acknowledged")
        #expect(outage["acknowledged_by"] as? String == "+15550100001")
        // Well past `after`: no escalation.
        #expect(FrontDoor.holds(for: 4.5) { (try? contract.accepted("hook").isEmpty) ?? false })
    }
}
