import AsyncHTTPClient
import Foundation
import Logging
import ServiceLifecycle
import Testing
import TestSupport
import TugboatAlerts
import TugboatCore
import TugboatStore

/// The outbox against the contract server: a channel that hangs holds up no other, a provider's
/// `Retry-After` is capped, and a delivery cut short by shutdown is not an attempt.
@Suite("Outbox lanes, Retry-After and shutdown against the contract server", .serialized, .timeLimit(.minutes(2)))
struct OutboxLaneTests {
    let logger = Logger(label: "t")

    func withContract(_ body: (ContractTestServer, HTTPClient) async throws -> Void) async throws {
        try await LiveFixtures.withClient { client in
            let contract = try await ContractTestServer(client: client)
            defer { contract.stop() }
            try await body(contract, client)
        }
    }

    func twilioSMS(_ contract: ContractTestServer, _ client: HTTPClient) -> NotificationSender {
        var twilio = TwilioConfig(accountSID: "AC00000000000000000000000000000000", authToken: Secret("contract-token"),
                                  from: "+15550100000", to: ["+15550100111"])
        twilio.apiBase = contract.base
        return LiveFixtures.sender(.twilioSMS(twilio), client: client)
    }

    func webhook(_ contract: ContractTestServer, _ client: HTTPClient, timeout: Duration = .seconds(60)) -> NotificationSender {
        LiveFixtures.sender(.webhook(url: contract.base + "/hook"), client: client, timeout: timeout)
    }

    /// Writes an incident with one page for `channel` into the outbox.
    @discardableResult
    func page(_ store: Store, channel: String, recipient: String? = nil) async throws -> Int64 {
        let incident = try await store.save(IncidentRecord(rule: "r", target: channel, state: .firing, summary: "down", startedAt: Date()),
                                      notifications: [NotificationRecord(incident: 0, channel: channel, recipient: recipient, kind: .trigger,
                                                                         text: "[tugboat] FIRING down", at: Date())])
        return incident.id!
    }

    func held(_ contract: ContractTestServer) async throws -> Bool {
        try await contract.requests().contains { $0["kind"] as? String == "hook" && $0["status"] as? Int == 0 }
    }

    func row(_ store: Store, _ channel: String) async throws -> NotificationRecord? {
        try await store.notifications().first { $0.channel == channel }
    }

    @Test("a webhook that hangs does not hold up an SMS page written while it hangs: the SMS is sent before the webhook's attempt ends")
    func hungWebhookBesideSMS() async throws {
        try await withContract { contract, client in
            try await contract.fail("timeout", path: "/hook")
            let store = try Store(path: ":memory:")
            let dispatcher = OutboxDispatcher(store: store, senders: ["hook": webhook(contract, client), "sms": twilioSMS(contract, client)],
                                              logger: logger)
            try await page(store, channel: "hook")
            let running = Task { try await dispatcher.run() }
            defer { running.cancel() }
            try await waitUntil("the webhook is held without an answer") { try await held(contract) }

            try await page(store, channel: "sms", recipient: "+15550100111")
            dispatcher.notify()
            try await waitUntil("the SMS is sent") { try await row(store, "sms")?.status == .sent }
            let hook = try #require(try await row(store, "hook"))
            #expect(hook.status == .pending && hook.attempts == 0, "the webhook's attempt ended before the SMS went out: \(hook)")
            #expect(try await contract.requests().contains { $0["kind"] as? String == "sms" && $0["status"] as? Int == 201 })
            running.cancel()
            _ = await running.result
        }
    }

    @Test("a channel answering with a Retry-After of 31 years is tried again after alerts.retry max (5m), not then",
          arguments: [("429", nil as String?), ("503", "/hook" as String?)])
    func retryAfterCapped(status: String, path: String?) async throws {
        try await withContract { contract, client in
            try await contract.fail(status, path: path, retryAfter: "999999999")
            let store = try Store(path: ":memory:")
            let channel = path == nil ? "sms" : "hook"
            let sender = path == nil ? twilioSMS(contract, client) : webhook(contract, client)
            let dispatcher = OutboxDispatcher(store: store, senders: [channel: sender],
                                              policy: .init(firstDelay: .seconds(1), maxDelay: .seconds(300)), logger: logger)
            try await page(store, channel: channel, recipient: path == nil ? "+15550100111" : nil)
            let before = Date()
            await dispatcher.deliverDue()
            let after = Date()
            let notification = try #require(try await row(store, channel))
            #expect(notification.status == .pending && notification.attempts == 1)
            #expect(notification.lastError?.contains(status) == true)
            // Honoured (not the 1 s backoff), up to the 300 s cap; the store keeps times to the
            // millisecond, so the time read back may be off by one either way.
            #expect(notification.nextAttemptAt >= before.addingTimeInterval(300 - 0.001))
            #expect(notification.nextAttemptAt <= after.addingTimeInterval(300 + 0.001))
        }
    }

    @Test("shutdown in the middle of a delivery: not counted as an attempt, delivered by the next run")
    func shutdownMidDelivery() async throws {
        try await withContract { contract, client in
            try await contract.fail("timeout", path: "/hook")
            let path = NSTemporaryDirectory() + "tugboat-shutdown-\(UUID().uuidString)/tugboat.db"
            do {
                let store = try Store(path: path)
                try await page(store, channel: "hook")
                let dispatcher = OutboxDispatcher(store: store, senders: ["hook": webhook(contract, client, timeout: .seconds(5))], logger: logger)
                let group = ServiceGroup(configuration: .init(services: [dispatcher], logger: logger))
                let running = Task { try await group.run() }
                try await waitUntil("the webhook is held without an answer") { try await held(contract) }
                await group.triggerGracefulShutdown()
                try await running.value
                let notification = try #require(try await row(store, "hook"))
                #expect(notification.status == .pending)
                #expect(notification.attempts == 0)
                #expect(notification.lastError == nil)
            }
            let restarted = try Store(path: path)
            let next = OutboxDispatcher(store: restarted, senders: ["hook": webhook(contract, client)], logger: logger)
            try await waitUntil("the page is delivered after the restart") {
                await next.deliverDue()
                return try await row(restarted, "hook")?.status == .sent
            }
            #expect(try await row(restarted, "hook")?.attempts == 1)
            #expect(try await contract.requests().filter { $0["kind"] as? String == "hook" }.map { $0["status"] as? Int } == [0, 200])
        }
    }
}
