import Testing
import TugboatAlerts
import TugboatCore

@Suite("Condition evaluator")
struct ConditionEvaluatorTests {
    let a = HostPort(host: "127.0.0.1", port: 9001), b = HostPort(host: "127.0.0.1", port: 9002)

    func rule(_ name: String, _ condition: AlertCondition) -> AlertRule { AlertRule(name: name, condition: condition) }

    @Test("monitor down/up, per-backend incidents, and no-healthy-backends only when none is healthy or starting")
    func poolConditions() {
        var evaluator = ConditionEvaluator(rules: [
            rule("front-down", .down(monitor: "front")), rule("backend-down", .backendDown), rule("pool-down", .noHealthyBackends),
        ])
        #expect(evaluator.evaluate(.monitorChanged(name: "front", up: false, reason: "HTTP 503")).map(\.active) == [true])
        #expect(evaluator.evaluate(.monitorChanged(name: "other", up: false, reason: "x")).isEmpty)
        #expect(evaluator.evaluate(.backendAdded(a)).isEmpty)  // starting: not an outage
        _ = evaluator.evaluate(.backendAdded(b))
        _ = evaluator.evaluate(.backendStateChanged(address: a, from: .starting, to: .healthy, reason: ""))
        _ = evaluator.evaluate(.backendStateChanged(address: b, from: .starting, to: .healthy, reason: ""))
        let aDown = evaluator.evaluate(.backendStateChanged(address: a, from: .healthy, to: .unhealthy, reason: "refused"))
        #expect(aDown.map(\.rule) == ["backend-down"])
        #expect(aDown.first?.target == "127.0.0.1:9001")
        #expect(aDown.first?.active == true)
        let bDown = evaluator.evaluate(.backendStateChanged(address: b, from: .healthy, to: .unhealthy, reason: "refused"))
        #expect(bDown.map { "\($0.rule) \($0.target) \($0.active)" } == ["backend-down 127.0.0.1:9002 true", "pool-down pool true"])
        let bUp = evaluator.evaluate(.backendStateChanged(address: b, from: .unhealthy, to: .healthy, reason: "ok"))
        #expect(bUp.map { "\($0.rule) \($0.target) \($0.active)" } == ["backend-down 127.0.0.1:9002 false", "pool-down pool false"])
    }

    @Test("traffic thresholds: rate, 5xx share, p99; no traffic is no error rate")
    func traffic() {
        var evaluator = ConditionEvaluator(rules: [
            rule("spike", .rpsAbove(200)), rule("errors", .errorRateAbove(0.05)), rule("slow", .p99Above(.milliseconds(500))),
        ])
        let busy = TrafficSample(interval: .seconds(1), requests: 300, serverErrors: 30, p99Seconds: 0.7, perBackend: [:])
        #expect(evaluator.evaluate(.traffic(busy)).map(\.active) == [true, true, true])
        let calm = TrafficSample(interval: .seconds(1), requests: 100, serverErrors: 1, p99Seconds: 0.1, perBackend: [:])
        #expect(evaluator.evaluate(.traffic(calm)).map(\.active) == [false, false, false])
        let idle = TrafficSample(interval: .seconds(1), requests: 0, serverErrors: 0, p99Seconds: 0, perBackend: [:])
        #expect(evaluator.evaluate(.traffic(idle)).map(\.active) == [false, false, false])
    }

    @Test("certificate-expires-within: active when less time is left than the threshold, one target per certificate")
    func certificateExpiry() {
        var evaluator = ConditionEvaluator(rules: [rule("cert", .certificateExpiresWithin(.seconds(14 * 86_400)))])
        let soon = evaluator.evaluate(.certificateChecked(name: "example.com", expiresIn: .seconds(3 * 86_400)))
        #expect(soon.map(\.active) == [true])
        #expect(soon.first?.target == "example.com")
        #expect(soon.first?.detail == "certificate example.com expires in 3 days")
        #expect(evaluator.evaluate(.certificateChecked(name: "example.com", expiresIn: .seconds(60 * 86_400))).map(\.active) == [false])
        #expect(evaluator.evaluate(.certificateChecked(name: "old.example.com", expiresIn: .seconds(-10))).first?.detail
                == "certificate old.example.com has expired")
    }
}
