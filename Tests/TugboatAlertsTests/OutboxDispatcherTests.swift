import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
import TugboatCore
@testable import TugboatAlerts
import TugboatStore

/// A sender that answers from a script and counts what it delivered.
final class ScriptedSender: NotificationSender {
    private let script: Mutex<[DeliveryError?]>
    let delivered = Mutex<[Int64]>([])

    init(_ script: [DeliveryError?]) { self.script = Mutex(script) }

    func send(_ notification: NotificationRecord, incident: IncidentRecord) async throws(DeliveryError) -> String? {
        let next: DeliveryError?? = script.withLock { $0.isEmpty ? nil : $0.removeFirst() }
        if case .some(.some(let error)) = next { throw error }
        delivered.withLock { $0.append(notification.id!) }
        return "SID\(notification.id!)"
    }
}

@Suite("Durable outbox")
struct OutboxDispatcherTests {
    /// Retries a second or two apart, on a clock the test moves.
    let policy = OutboxDispatcher.RetryPolicy(firstDelay: .seconds(1), maxDelay: .seconds(2), maxAttempts: 4)
    let manual = ManualClock()
    let clock: ServiceClock

    init() { clock = ServiceClock(manual) }

    func storeWithOnePage(path: String = ":memory:") async throws -> (Store, Int64) {
        let store = try Store(path: path)
        let now = clock.date  // written now on the test's clock: due at once
        let incident = try await store.save(IncidentRecord(rule: "r", target: "t", state: .firing, summary: "s", startedAt: now),
                                      notifications: [NotificationRecord(incident: 0, channel: "call", recipient: "+15550100", kind: .trigger, text: "x", at: now)])
        return (store, incident.id!)
    }

    /// Delivers what is due; while a page is pending, first checks that its retry is not due before
    /// its backoff (half the first delay), then moves the clock past the longest one.
    func deliverUntilSettled(_ dispatcher: OutboxDispatcher, _ store: Store) async throws {
        for _ in 0..<20 {
            await dispatcher.deliverDue()
            let pending = try await store.notifications().filter { $0.status == .pending }
            if pending.isEmpty { return }
            let attempts = pending.map(\.attempts)
            manual.advance(by: .milliseconds(400))
            await dispatcher.deliverDue()
            #expect(try await store.notifications().filter { $0.status == .pending }.map(\.attempts) == attempts, "retried before its backoff")
            manual.advance(by: policy.maxDelay)
        }
        Issue.record("still pending after 20 rounds")
    }

    @Test("retryable errors are retried, then success delivers exactly once with the provider id")
    func retryThenSuccess() async throws {
        let (store, _) = try await storeWithOnePage()
        let sender = ScriptedSender([.retryable("HTTP 500"), .retryable("HTTP 429"), nil])
        let dispatcher = OutboxDispatcher(store: store, senders: ["call": sender], policy: policy, logger: Logger(label: "t"), clock: clock)
        try await deliverUntilSettled(dispatcher, store)
        let notification = try #require(try await store.notifications().first)
        #expect(notification.status == .sent)
        #expect(notification.attempts == 3)
        #expect(notification.providerID == "SID\(notification.id!)")
        #expect(sender.delivered.withLock { $0.count } == 1)
        await dispatcher.deliverDue()  // nothing more to do
        #expect(sender.delivered.withLock { $0.count } == 1)
    }

    @Test("a page pending for a channel a reload removed fails visibly, saying so; it is not dropped")
    func removedChannelFails() async throws {
        let (store, _) = try await storeWithOnePage()
        let dispatcher = OutboxDispatcher(store: store, senders: ["call": ScriptedSender([])], policy: policy, logger: Logger(label: "t"), clock: clock)
        dispatcher.replaceSenders(["hook": ScriptedSender([])])
        try await deliverUntilSettled(dispatcher, store)
        let notification = try #require(try await store.notifications().first)
        #expect(notification.status == .failed)
        #expect(notification.lastError == "channel 'call' was removed by a config reload")
    }

    @Test("a permanent error marks the notification failed at once, with the reason")
    func permanent() async throws {
        let (store, _) = try await storeWithOnePage()
        let dispatcher = OutboxDispatcher(store: store, senders: ["call": ScriptedSender([.permanent("Twilio HTTP 400 21211: invalid")])],
                                          policy: policy, logger: Logger(label: "t"), clock: clock)
        try await deliverUntilSettled(dispatcher, store)
        let notification = try #require(try await store.notifications().first)
        #expect(notification.status == .failed)
        #expect(notification.attempts == 1)
        #expect(notification.lastError == "Twilio HTTP 400 21211: invalid")
    }

    @Test("nothing is retried forever: after the last attempt it is failed, not dropped")
    func givesUp() async throws {
        let (store, _) = try await storeWithOnePage()
        let dispatcher = OutboxDispatcher(store: store, senders: ["call": ScriptedSender(Array(repeating: .retryable("HTTP 503"), count: 10))],
                                          policy: policy, logger: Logger(label: "t"), clock: clock)
        try await deliverUntilSettled(dispatcher, store)
        let notification = try #require(try await store.notifications().first)
        #expect(notification.status == .failed)
        #expect(notification.attempts == 4)
        #expect(notification.lastError?.contains("gave up after 4 attempts") == true)
    }

    @Test("a pending notification survives a restart and is delivered once by the next process")
    func survivesRestart() async throws {
        let path = NSTemporaryDirectory() + "tugboat-outbox-\(UUID().uuidString).db"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let (store, _) = try await storeWithOnePage(path: path)
            let first = OutboxDispatcher(store: store, senders: ["call": ScriptedSender([.retryable("HTTP 500")])],
                                         policy: policy, logger: Logger(label: "t"), clock: clock)
            await first.deliverDue()
            #expect(try await store.notifications().first?.status == .pending)
        }
        let reopened = try Store(path: path)
        let sender = ScriptedSender([])
        let second = OutboxDispatcher(store: reopened, senders: ["call": sender], policy: policy, logger: Logger(label: "t"), clock: clock)
        try await deliverUntilSettled(second, reopened)
        #expect(try await reopened.notifications().first?.status == .sent)
        #expect(sender.delivered.withLock { $0.count } == 1)
    }

    @Test("lanes: one delivery at a time per channel and number, oldest first; a busy lane holds up no other")
    func lanes() {
        func page(_ id: Int64, _ channel: String, _ to: String? = nil) -> NotificationRecord {
            var notification = NotificationRecord(incident: 1, channel: channel, recipient: to, kind: .trigger, text: "x", at: Date())
            notification.id = id
            return notification
        }
        var lanes = OutboxLanes()
        let due = [page(1, "hook"), page(2, "hook"), page(3, "sms", "+15550100"), page(4, "sms", "+15550111"), page(5, "call", "+15550100")]
        #expect(lanes.claim(due).map(\.id) == [1, 3, 4, 5])
        #expect(lanes.claim(due).isEmpty)  // all busy
        lanes.release(page(3, "sms", "+15550100"))
        #expect(lanes.claim([page(6, "hook"), page(7, "sms", "+15550100")]).map(\.id) == [7])
    }
}
