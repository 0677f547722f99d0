import Foundation
import Logging
import TestSupport
import Testing
@testable import TugboatAlerts
import TugboatCore
import TugboatStore

@Suite("Alert manager: a reload's new rules while incidents are open")
struct AlertManagerReloadTests {
    let address = HostPort(host: "127.0.0.1", port: 9001)

    static func rule(_ name: String, _ condition: AlertCondition, channels: [String], pendingFor: Duration = .zero) -> AlertRule {
        var rule = AlertRule(name: name, condition: condition)
        rule.channels = channels
        rule.pendingFor = pendingFor
        return rule
    }

    static func config(_ rules: [AlertRule], channels: [String] = ["log", "other"]) -> AlertsConfig {
        var config = AlertsConfig()
        config.channels = Dictionary(uniqueKeysWithValues: channels.map { ($0, ChannelConfig.log) })
        config.rules = rules
        config.startupGrace = .zero
        config.group?.wait = .zero
        return config
    }

    func manager(_ store: Store, _ config: AlertsConfig, clock: ServiceClock = .continuous) -> AlertManager {
        let dispatcher = OutboxDispatcher(store: store, senders: [:], logger: Logger(label: "t"), clock: clock)
        return AlertManager(config: config, store: store, signals: SignalBus(), dispatcher: dispatcher, logger: Logger(label: "t"), clock: clock)
    }

    func backendDown(_ alerts: AlertManager) async {
        await alerts.handle(.backendAdded(address))
        await alerts.handle(.backendStateChanged(address: address, from: .starting, to: .unhealthy, reason: "connection refused"))
        await alerts.tick()
    }

    func pages(_ store: Store, _ kind: String) async throws -> [NotificationRecord] { try await store.notifications().filter { $0.kind.rawValue == kind } }

    @Test("a rule edited by a reload keeps its firing incident: no second page; the resolve goes to its new channels")
    func editedRuleKeepsIncident() async throws {
        let store = try Store(path: ":memory:")
        let alerts = manager(store, Self.config([Self.rule("down", .backendDown, channels: ["log"])]))
        await backendDown(alerts)
        #expect(try await pages(store, "trigger").map(\.channel) == ["log"])

        await alerts.replace(config: Self.config([Self.rule("down", .backendDown, channels: ["other"], pendingFor: .seconds(60))]))
        await alerts.tick()
        #expect(try await store.incidents().map(\.state) == [.firing], "still the same open incident")
        #expect(try await pages(store, "trigger").count == 1)

        await alerts.handle(.backendStateChanged(address: address, from: .unhealthy, to: .healthy, reason: "check passed"))
        #expect(try await store.incidents().map(\.state) == [.resolved])
        #expect(try await pages(store, "resolve").map(\.channel) == ["other"])
    }

    @Test("an incident of a rule a reload removed resolves at once, saying why; its channels that remain hear it")
    func removedRuleResolves() async throws {
        let store = try Store(path: ":memory:")
        let alerts = manager(store, Self.config([Self.rule("down", .backendDown, channels: ["log", "other"])]))
        await backendDown(alerts)
        await alerts.replace(config: Self.config([], channels: ["log"]))
        let incident = try #require(try await store.incidents().first)
        #expect(incident.state == .resolved)
        let resolve = try await pages(store, "resolve")
        #expect(resolve.map(\.channel) == ["log"])
        #expect(resolve.first?.text.contains("rule down was removed from the config") == true, "\(resolve)")
        // The backend recovering later pages nobody.
        await alerts.handle(.backendStateChanged(address: address, from: .unhealthy, to: .healthy, reason: "check passed"))
        #expect(try await store.notifications().count == 3)
    }

    @Test("a rule that now watches something else is a new rule: the old incident resolves")
    func otherConditionIsANewRule() async throws {
        let store = try Store(path: ":memory:")
        let alerts = manager(store, Self.config([Self.rule("r", .backendDown, channels: ["log"])]))
        await backendDown(alerts)
        await alerts.replace(config: Self.config([Self.rule("r", .rpsAbove(100), channels: ["log"])]))
        #expect(try await store.incidents().map(\.state) == [.resolved])
    }

    @Test("a rule added while its condition already holds fires at once (the evaluator remembers the state)")
    func addedRuleSeesCurrentState() async throws {
        let store = try Store(path: ":memory:")
        let alerts = manager(store, Self.config([]))
        await backendDown(alerts)
        await alerts.handle(.monitorChanged(name: "front", up: false, reason: "HTTP 503"))
        #expect(try await store.incidents().isEmpty)
        await alerts.replace(config: Self.config([Self.rule("down", .backendDown, channels: ["log"]),
                                                  Self.rule("front", .down(monitor: "front"), channels: ["log"]),
                                                  Self.rule("pool", .noHealthyBackends, channels: ["log"])]))
        let rules = try await store.incidents().map(\.rule).sorted()
        #expect(rules == ["down", "front", "pool"])
    }

    @Test("a pending incident keeps its start: a shorter `for` that has passed since then fires it at once")
    func pendingKeepsItsStart() async throws {
        let store = try Store(path: ":memory:")
        let manual = ManualClock()
        let alerts = manager(store, Self.config([Self.rule("down", .backendDown, channels: ["log"], pendingFor: .seconds(3600))]),
                             clock: ServiceClock(manual))
        await backendDown(alerts)
        manual.advance(by: .milliseconds(300))
        #expect(try await store.incidents().isEmpty)
        // Pending for 300 ms already: a `for` of 200 ms has passed; counted from the reload it would not have.
        await alerts.replace(config: Self.config([Self.rule("down", .backendDown, channels: ["log"], pendingFor: .milliseconds(200))]))
        #expect(try await store.incidents().map(\.state) == [.firing])
        #expect(try await pages(store, "trigger").count == 1)
    }

    @Test("across a restart: an incident of a rule no longer in the file resolves at start, and its outage's resolve is told")
    func restartWithRuleGone() async throws {
        let store = try Store(path: ":memory:")
        await backendDown(manager(store, Self.config([Self.rule("down", .backendDown, channels: ["log"])])))
        #expect(try await pages(store, "trigger").count == 1)
        // Not paged and in no outage: resolved quietly.
        _ = try await store.save(IncidentRecord(rule: "old", target: "pool", state: .firing, summary: "s", startedAt: Date()))

        await manager(store, Self.config([])).restore()
        #expect(try await store.incidents().map(\.state) == [.resolved, .resolved])
        let resolve = try await pages(store, "resolve")
        #expect(resolve.map(\.channel) == ["log"])
        #expect(resolve.first?.text.contains("rule down was removed from the config") == true, "\(resolve)")
    }
}
