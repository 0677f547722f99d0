import Foundation
import Logging
import Testing
import TestSupport
@testable import TugboatAlerts
import TugboatCore
import TugboatStore

/// A store that refuses writes (a full disk, no descriptors left) loses no page: the page is kept
/// in memory, written when the store takes writes again, and delivered.
@Suite("Pages never dropped: writes the store refuses are kept and retried")
struct UnsavedPagesTests {
    let address = HostPort(host: "127.0.0.1", port: 9001)
    let fast = OutboxDispatcher.RetryPolicy(firstDelay: .milliseconds(1), maxDelay: .milliseconds(5), maxAttempts: 4)

    struct Setup {
        let store: Store
        let alerts: AlertManager
        let dispatcher: OutboxDispatcher
        let sender: ScriptedSender
        let logs: CapturingLogHandler
    }

    func setup() throws -> Setup {
        let path = NSTemporaryDirectory() + "tugboat-unsaved-\(UUID().uuidString)/tugboat.db"
        let store = try Store(path: path)
        let logs = CapturingLogHandler()
        let logger = Logger(label: "t") { _ in logs }
        let sender = ScriptedSender([])
        let dispatcher = OutboxDispatcher(store: store, senders: ["log": sender], policy: fast, logger: logger)
        let alerts = AlertManager(config: .backendDownToLog, store: store, signals: SignalBus(), dispatcher: dispatcher, logger: logger,
                                  storeRetry: fast)
        return Setup(store: store, alerts: alerts, dispatcher: dispatcher, sender: sender, logs: logs)
    }

    func backend(_ s: Setup, down: Bool) async {
        await s.alerts.handle(.backendStateChanged(address: address, from: down ? .healthy : .unhealthy, to: down ? .unhealthy : .healthy,
                                                   reason: down ? "connection refused" : "check passed"))
    }

    /// Ticks the manager and delivers the outbox until `count` pages went out.
    func deliver(_ s: Setup, count: Int) async throws {
        try await waitUntil("\(count) page(s) delivered") {
            await s.alerts.tick()
            await s.dispatcher.deliverDue()
            return s.sender.delivered.withLock { $0.count } >= count
        }
    }

    func logged(_ s: Setup, _ text: String) -> Bool { s.logs.lines.withLock { $0.contains { $0.contains(text) } } }

    @Test("the incident's write refused three times: the page is written on the fourth try and delivered once")
    func incidentWriteRefused() async throws {
        let s = try setup()
        await s.alerts.handle(.backendAdded(address))
        let refused = try s.store.refuseWrites(3)
        await backend(s, down: true)
        try await deliver(s, count: 1)
        #expect(refused.remaining == 0)
        #expect(try await s.store.incidents().map(\.state) == [.firing])
        let pages = try await s.store.notifications()
        #expect(pages.map(\.kind) == [.trigger])
        #expect(pages.map(\.status) == [.sent])
        #expect(logged(s, "error store refused a write: pages are kept in memory until it takes them"))
        #expect(logged(s, "database or disk is full"))
        #expect(logged(s, "store takes writes again"))
    }

    @Test("the page's write (outage and outbox) refused three times: it is written afterwards and delivered once")
    func pageWriteRefused() async throws {
        let s = try setup()
        await s.alerts.handle(.backendAdded(address))
        let refused = try s.store.refuseWrites(3, tables: ["alertGroup", "notification"])
        await backend(s, down: true)
        try await deliver(s, count: 1)
        #expect(refused.remaining == 0)
        let outage = try #require(try await s.store.outages().first)
        #expect(try await s.store.incidents().first?.alertGroup == outage.id)
        #expect(try await s.store.notifications().map(\.status) == [.sent])
        await s.dispatcher.deliverDue()
        #expect(s.sender.delivered.withLock { $0.count } == 1)
    }

    @Test("an incident that fires and resolves while the store refuses every write: both pages, in order, once it takes them")
    func fireAndResolveWhileRefused() async throws {
        let s = try setup()
        await s.alerts.handle(.backendAdded(address))
        let refused = try s.store.refuseWrites(.max)
        await backend(s, down: true)
        await backend(s, down: false)
        try await waitUntil("the store refused a retry") {
            await s.alerts.tick()
            return refused.remaining < Int.max - 2
        }
        #expect(try await s.store.incidents().isEmpty)
        #expect(try await s.store.notifications().isEmpty)
        refused.set(0)
        try await deliver(s, count: 2)
        let incident = try #require(try await s.store.incidents().first)
        #expect(try await s.store.incidents().count == 1)
        #expect(incident.state == .resolved)
        #expect(incident.alertGroup != nil)
        let pages = try await s.store.notifications().sorted { $0.id! < $1.id! }
        #expect(pages.map(\.kind) == [.trigger, .resolve])
        #expect(pages.map(\.status) == [.sent, .sent])
        #expect(Set(s.sender.delivered.withLock { $0 }) == Set(pages.map { $0.id! }))
    }
}
