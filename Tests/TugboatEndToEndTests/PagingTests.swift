import Foundation
import Testing

/// Paging end to end: real `tugboat serve` processes, a heartbeat monitor, and the
/// `tugboat-contract` Twilio stand-in that checks auth, paths and form fields.
@Suite("Paging end to end", .serialized)
struct PagingTests {
    let environment = ["TEST_TWILIO_TOKEN": ContractServer.authToken]

    /// Pages as soon as an incident fires (no start-up grace, no grouping wait) unless `alertsExtra` says otherwise.
    func tugboat(_ contract: ContractServer, rules: String, alertsExtra: String = "  group: { wait: 0s }\n", statePath: String? = nil) throws -> TugboatUnderTest {
        let top = contract.monitorYAML + "alerts:\n  retry: { first: 100ms, max: 300ms }\n  timeout: 1s\n  startup-grace: 0s\n" + alertsExtra
            + contract.channelsYAML() + "\n  rules:\n" + rules
        if let statePath {
            return try TugboatUnderTest(backends: [], extraTop: top, statePath: statePath, environment: environment)
        }
        return try TugboatUnderTest(backends: [], extraTop: top, environment: environment)
    }

    @Test("one call and one SMS per incident however long it lasts; one resolved SMS; no call to say it is over")
    func pagesOncePerIncident() throws {
        let contract = try ContractServer()
        let tugboat = try self.tugboat(contract, rules: "    - { name: front-down, monitor: front, condition: down, channels: [call, sms] }\n")
        try contract.waitForChecks(3)
        try contract.setHealth(up: false)
        try waitUntilBlocking("the call and the SMS") { try contract.accepted("call").count == 1 && contract.accepted("sms").count == 1 }
        try contract.waitForChecks(15)  // the outage goes on
        try contract.setHealth(up: true)
        try waitUntilBlocking("the resolved SMS") { try contract.accepted("sms").count == 2 }
        try contract.waitForChecks(5)

        let calls = try contract.accepted("call"), texts = try contract.accepted("sms")
        #expect(calls.count == 1)
        #expect(texts.count == 2)
        let callFields = calls[0]["fields"] as? [String: String] ?? [:]
        #expect(callFields["To"] == "+15550100001")
        #expect(callFields["From"] == "+15550100000")
        #expect(callFields["Twiml"]?.hasPrefix("<Response><Say>Tugboat alert. FIRING") == true)
        #expect((texts[0]["fields"] as? [String: String])?["Body"]?.contains("FIRING #1 front-down") == true)
        #expect((texts[1]["fields"] as? [String: String])?["Body"]?.contains("RESOLVED #1 front-down") == true)

        let incidents = try tugboat.incidents()
        #expect(incidents.count == 1)
        #expect(incidents.first?["state"] as? String == "resolved")
        let notifications = try tugboat.notifications()
        #expect(notifications.count == 3)
        #expect(notifications.allSatisfy { $0["status"] as? String == "sent" })
        let sids = Set(notifications.compactMap { $0["provider_id"] as? String })
        let contractSIDs = Set((calls + texts).compactMap { ($0["fields"] as? [String: String])?["Sid"] })
        #expect(sids == contractSIDs)
        #expect(!tugboat.child.lines.joined().contains(ContractServer.authToken))
    }

    @Test("500s, a 429 or a timeout are retried; the page is delivered exactly once", arguments: [("500", 2), ("429", 1), ("timeout", 1)])
    func retriedThenDelivered(mode: String, count: Int) throws {
        let contract = try ContractServer()
        try contract.fail(mode, count: count)
        let tugboat = try self.tugboat(contract, rules: "    - { name: front-down, monitor: front, condition: down, channels: [call] }\n")
        try contract.setHealth(up: false)
        try waitUntilBlocking(timeout: .seconds(20), "the call to get through") { try contract.accepted("call").count == 1 }
        try waitUntilBlocking("the outbox to record it") { try tugboat.notifications().first?["status"] as? String == "sent" }
        let notification = try #require(try tugboat.notifications().first)
        #expect(notification["attempts"] as? Int == count + 1)
        #expect(try contract.attempts("call") == count + 1)
        try contract.waitForChecks(5)
        #expect(try contract.accepted("call").count == 1)
    }

    @Test("a permanent Twilio error (21211) marks the page failed with Twilio's code and message, without retrying")
    func permanentError() throws {
        let contract = try ContractServer()
        try contract.fail("400", count: 1)
        let tugboat = try self.tugboat(contract, rules: "    - { name: front-down, monitor: front, condition: down, channels: [sms] }\n")
        try contract.setHealth(up: false)
        try waitUntilBlocking("the page to fail") { try tugboat.notifications().first?["status"] as? String == "failed" }
        let notification = try #require(try tugboat.notifications().first)
        #expect(notification["attempts"] as? Int == 1)
        #expect((notification["error"] as? String)?.contains("Twilio HTTP 400 21211: The 'To' number") == true)
        #expect(tugboat.child.lines.contains { $0.contains("notification failed") && $0.contains("21211") })
        try contract.waitForChecks(5)
        #expect(try contract.attempts("sms") == 1)
    }

    @Test("a webhook to a port nobody listens on fails each attempt at once, not at the end of its 20 s timeout, and is retried")
    func refusedWebhookFailsFast() throws {
        let contract = try ContractServer()
        let closed = try freePort()
        let top = contract.monitorYAML + "alerts:\n  retry: { first: 100ms, max: 300ms }\n  timeout: 20s\n  startup-grace: 0s\n  group: { wait: 0s }\n"
            + contract.channelsYAML() + "\n    dead: { webhook: { url: \"http://127.0.0.1:\(closed)/hook\" } }\n"
            + "  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [dead] }\n"
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: environment)
        try contract.waitForChecks(3)
        try contract.setHealth(up: false)
        // Two attempts within 15 s: each ended when the connection was refused, not at the 20 s timeout.
        try waitUntilBlocking(timeout: .seconds(15), "two refused attempts") { (try tugboat.notifications().first?["attempts"] as? Int ?? 0) >= 2 }
        let notification = try #require(try tugboat.notifications().first)
        #expect(notification["status"] as? String == "pending", "still retried: \(notification)")
        #expect((notification["error"] as? String)?.lowercased().contains("refused") == true, "\(notification)")
    }

    @Test("a restart in the middle of retrying delivers exactly once, and the open incident does not page again")
    func restartWhileRetrying() throws {
        let contract = try ContractServer()
        try contract.fail("500", count: 1000)
        let statePath = NSTemporaryDirectory() + "tugboat-restart-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: statePath) }
        let rules = "    - { name: front-down, monitor: front, condition: down, channels: [call] }\n"
        var first: TugboatUnderTest? = try self.tugboat(contract, rules: rules, statePath: statePath)
        try contract.setHealth(up: false)
        try waitUntilBlocking("a few failed attempts") { try contract.attempts("call") >= 2 }
        first?.child.stop()  // SIGKILL: no chance to tidy up
        first = nil
        try contract.fail("500", count: 0)
        let second = try self.tugboat(contract, rules: rules, statePath: statePath)
        try waitUntilBlocking("the pending call to be delivered") { try contract.accepted("call").count == 1 }
        try contract.waitForChecks(10)
        #expect(try contract.accepted("call").count == 1)
        #expect(try second.incidents().count == 1)
        #expect(try second.notifications().count == 1)
    }

    @Test("acknowledging an incident stops its escalation; an unacknowledged one escalates")
    func acknowledgeStopsEscalation() throws {
        let contract = try ContractServer()
        let rules = """
            - { name: acked, monitor: front, condition: down, channels: [sms], escalate: { after: 1s, channels: [hook] } }
            - { name: ignored, monitor: front, condition: down, channels: [sms], escalate: { after: 1s, channels: [hook] } }

        """
        // Each incident its own outage, so that one can be acknowledged and the other not.
        let tugboat = try self.tugboat(contract, rules: rules, alertsExtra: "  group: off\n")
        try contract.setHealth(up: false)
        try waitUntilBlocking("both incidents firing") { try tugboat.incidents().count == 2 }
        let acked = try #require(try tugboat.incidents().first { $0["rule"] as? String == "acked" }?["id"] as? Int)
        let answer = try tugboat.admin("/api/incidents/\(acked)/ack", method: "POST") as? [String: Any]
        #expect(answer?["state"] as? String == "acknowledged")
        let again = try tugboat.post("/api/incidents/\(acked)/ack", body: "")
        #expect(again.status == 409 && again.text.contains("already acknowledged"), "\(again)")
        let cluster = try tugboat.admin("/api/cluster") as? [String: Any]
        #expect(cluster?["mode"] as? String == "single", "a node alone says so")
        try waitUntilBlocking("the unacknowledged incident to escalate") { try contract.accepted("hook").count == 1 }
        try contract.waitForChecks(5)
        let hooks = try contract.accepted("hook").compactMap { $0["body"] as? String }
        #expect(hooks.count == 1)
        #expect(hooks.first?.contains("\"rule\":\"ignored\"") == true)
        #expect(hooks.first?.contains("\"kind\":\"escalation\"") == true)
    }

    @Test("an idle Tugboat with monitors and alerts uses almost no CPU")
    func idleCPU() throws {
        let contract = try ContractServer()
        let tugboat = try self.tugboat(contract, rules: "    - { name: front-down, monitor: front, condition: down, channels: [call] }\n")
        try contract.waitForChecks(3)
        let before = tugboat.child.cpuSeconds, started = Date()
        try contract.waitForChecks(20)  // about two seconds of the monitor's own beat
        let share = (tugboat.child.cpuSeconds - before) / Date().timeIntervalSince(started)
        print("idle CPU share: \(String(format: "%.3f", share))")
        #expect(share < 0.25)
    }

    @Test("a blip shorter than `for` pages nobody")
    func blipDoesNotPage() throws {
        let contract = try ContractServer()
        let tugboat = try self.tugboat(contract, rules: "    - { name: front-down, monitor: front, condition: down, for: 2s, channels: [call, sms, hook] }\n")
        try contract.waitForChecks(2)
        try contract.setHealth(up: false)
        try contract.waitForChecks(3)  // down for about 300 ms
        try contract.setHealth(up: true)
        try contract.waitForChecks(25)  // well past `for`
        #expect(try contract.requests().filter { $0["kind"] as? String != nil }.isEmpty)
        #expect(try tugboat.incidents().isEmpty)
    }
}

@Suite("Detection speed end to end", .serialized)
struct DetectionTests {
    let environment = ["TEST_TWILIO_TOKEN": ContractServer.authToken]

    func start(_ contract: ContractServer, _ backends: [DemoBackend], health: String) throws -> TugboatUnderTest {
        let top = "alerts:\n  startup-grace: 0s\n  group: { wait: 0s }\n" + contract.channelsYAML() + "\n  rules:\n    - { name: backend-down, condition: backend-down, channels: [call] }\n"
        let tugboat = try TugboatUnderTest(backends: backends.map(\.address), extraTop: top, health: health, environment: environment)
        try tugboat.waitHealthy(backends.map(\.address))
        return tugboat
    }

    /// Seconds from `since` to the first accepted call.
    func secondsToCall(_ contract: ContractServer, since: Date, timeout: Double) throws -> Double {
        var at: Double?
        try waitUntilBlocking(timeout: .seconds(timeout), "the page") {
            at = try contract.accepted("call").first?["time"] as? Double
            return at != nil
        }
        return at! - since.timeIntervalSince1970
    }

    @Test("under live traffic a killed backend is caught from the traffic itself and paged within 2 s")
    func underTraffic() throws {
        let contract = try ContractServer()
        let a = try DemoBackend(), b = try DemoBackend()
        // Active checks once a minute: only the live traffic can notice.
        let tugboat = try start(contract, [a, b], health: "{ path: /health, interval: 60s, timeout: 1s, rise: 1, fall: 3 }")
        let stop = LoadLoop(port: tugboat.port)
        defer { stop.finish() }
        try waitUntilBlocking("traffic flowing") { stop.done >= 50 }
        let killedAt = Date()
        a.kill()
        let seconds = try secondsToCall(contract, since: killedAt, timeout: 10)
        print("detection under traffic: \(String(format: "%.3f", seconds)) s from SIGKILL to the Twilio call")
        #expect(seconds < 2)
        #expect(stop.failures == 0)
    }

    @Test("without traffic a killed backend is paged within interval x fall + 1 s")
    func withoutTraffic() throws {
        let contract = try ContractServer()
        let a = try DemoBackend()
        let tugboat = try start(contract, [a], health: "{ path: /health, interval: 500ms, timeout: 250ms, rise: 1, fall: 2 }")
        _ = tugboat
        let killedAt = Date()
        a.kill()
        let seconds = try secondsToCall(contract, since: killedAt, timeout: 10)
        print("detection without traffic: \(String(format: "%.3f", seconds)) s from SIGKILL to the Twilio call (bound 2.0 s)")
        #expect(seconds < 0.5 * 2 + 1)
    }
}

/// GETs in a loop on two threads until finished; counts successes and failures.
final class LoadLoop: @unchecked Sendable {
    private let lock = NSLock()
    private var _done = 0, _failures = 0, stopped = false
    private let group = DispatchGroup()

    init(port: Int, workers: Int = 2, path: String = "/") {
        for _ in 0..<workers {
            DispatchQueue.global().async(group: group) { [self] in
                var client: TestHTTPClient?
                while !lock.withLock({ stopped }) {
                    do {
                        if client == nil { client = try TestHTTPClient(port: port) }
                        let ok = try client!.request("GET", path).status == 200
                        lock.withLock { if ok { _done += 1 } else { _failures += 1 } }
                    } catch {
                        client = nil
                        lock.withLock { _failures += 1 }
                    }
                }
            }
        }
    }

    var done: Int { lock.withLock { _done } }
    var failures: Int { lock.withLock { _failures } }

    func finish() {
        lock.withLock { stopped = true }
        group.wait()
    }
}
