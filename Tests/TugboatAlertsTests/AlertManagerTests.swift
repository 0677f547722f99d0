import Foundation
import Logging
import TestSupport
import Testing
@testable import TugboatAlerts
import TugboatCore
import TugboatStore

@Suite("Alert manager: incidents into outages")
struct AlertManagerTests {
    let address = HostPort(host: "127.0.0.1", port: 9001)

    func manager(_ store: Store) -> AlertManager {
        var config = AlertsConfig()
        config.channels = ["log": .log]
        var exited = AlertRule(name: "crash", condition: .instanceExited)
        exited.keepFiringFor = .seconds(300)
        exited.channels = ["log"]
        var down = AlertRule(name: "backend-down", condition: .backendDown)
        down.channels = ["log"]
        config.rules = [exited, down]
        config.startupGrace = .zero
        config.group?.wait = .zero
        let dispatcher = OutboxDispatcher(store: store, senders: [:], logger: Logger(label: "t"))
        return AlertManager(config: config, store: store, signals: SignalBus(), dispatcher: dispatcher, logger: Logger(label: "t"))
    }

    @Test("an instance that exits and its backend going down are one incident and one page")
    func exitThenDown() async throws {
        let store = try Store(path: ":memory:")
        let alerts = manager(store)
        await alerts.handle(.backendAdded(address))
        await alerts.handle(.backendStateChanged(address: address, from: .starting, to: .healthy, reason: "check passed"))
        await alerts.handle(.instanceExited(address: address, status: "signal 9"))
        await alerts.handle(.backendStateChanged(address: address, from: .healthy, to: .unhealthy, reason: "connection refused"))
        await alerts.tick()
        let incidents = try await store.incidents()
        #expect(incidents.count == 1)
        #expect(incidents.first?.rule == "crash")
        #expect(incidents.first?.summary.contains("exited on its own (signal 9)") == true)
        #expect(incidents.first?.summary.contains("connection refused") == true)
        #expect(try await store.notifications().filter { $0.kind == .trigger }.count == 1)
    }

    @Test("a backend that went down first takes the news of its exit: still one incident")
    func downThenExit() async throws {
        let store = try Store(path: ":memory:")
        let alerts = manager(store)
        await alerts.handle(.backendAdded(address))
        await alerts.handle(.backendStateChanged(address: address, from: .starting, to: .unhealthy, reason: "connection refused"))
        await alerts.handle(.instanceExited(address: address, status: "exit 3"))
        await alerts.tick()
        let incidents = try await store.incidents()
        #expect(incidents.count == 1)
        #expect(incidents.first?.rule == "backend-down")
        #expect(incidents.first?.summary.contains("exited on its own (exit 3)") == true)
        // The backend comes back: the incident resolves (it follows the backend, not the exit).
        await alerts.handle(.backendStateChanged(address: address, from: .unhealthy, to: .healthy, reason: "check passed"))
        #expect(try await store.incidents().first?.state == .resolved)
    }

    @Test("a silence created through the manager holds the page; the history says silenced")
    func silenceHoldsPage() async throws {
        let store = try Store(path: ":memory:")
        let alerts = manager(store)
        _ = try await alerts.createSilence(matchers: ["rule": "backend-down"], starts: nil, ends: Date().addingTimeInterval(60),
                                           comment: "deploy", createdBy: "test")
        await alerts.handle(.backendAdded(address))
        await alerts.handle(.backendStateChanged(address: address, from: .starting, to: .unhealthy, reason: "refused"))
        await alerts.tick()
        let pages = try await store.notifications()
        #expect(pages.count == 1)
        #expect(pages.first?.status == .silenced)
        #expect(try await store.outages().first?.silenced == true)
        await #expect(throws: AlertManager.SilenceError.self) {
            try await alerts.createSilence(matchers: ["host": "x"], starts: nil, ends: Date().addingTimeInterval(60), comment: "c", createdBy: "t")
        }
    }

    @Test("a `for` window pending before a restart goes on after it: the rest of the window, not a whole one")
    func pendingWindowSurvivesRestart() async throws {
        let path = NSTemporaryDirectory() + "tugboat-pending-\(UUID().uuidString).db"
        var config = AlertsConfig()
        config.channels = ["log": .log]
        var rule = AlertRule(name: "front-down", condition: .down(monitor: "front"))
        rule.pendingFor = .seconds(3)
        rule.channels = ["log"]
        config.rules = [rule]
        config.startupGrace = .zero
        config.group?.wait = .zero
        let manual = ManualClock()
        let clock = ServiceClock(manual)
        func manager(_ store: Store) -> AlertManager {
            AlertManager(config: config, store: store, signals: SignalBus(),
                         dispatcher: OutboxDispatcher(store: store, senders: [:], logger: Logger(label: "t"), clock: clock),
                         logger: Logger(label: "t"), clock: clock)
        }
        let before = manager(try Store(path: path))
        await before.handle(.monitorChanged(name: "front", up: false, reason: "connection refused"))
        manual.advance(by: .seconds(2))  // the scenario: 2 s of the 3 s window pass, then Tugboat restarts

        let store = try Store(path: path)
        let after = manager(store)
        await after.restore()
        await after.handle(.monitorChanged(name: "front", up: false, reason: "connection refused"))  // its first check after the restart
        manual.advance(by: .milliseconds(900))
        await after.tick()
        #expect(try await store.incidents().isEmpty, "fired before its 3 s window was over")
        manual.advance(by: .milliseconds(200))
        await after.tick()
        #expect(try await store.incidents().first?.state == .firing, "not fired 1.1 s after the restart: the window started again")
        #expect(try await store.pendingConditions().isEmpty)
    }
}
