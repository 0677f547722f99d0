import Foundation
import Testing
import TugboatCore
import TugboatAlerts

/// The `pagerduty` and `opsgenie` senders against `tugboat-contract`, which checks the documented
/// wire formats and fails on demand.
@Suite("PagerDuty and Opsgenie against the contract server", .serialized, .timeLimit(.minutes(2)))
struct ProviderLiveTests {
    func withContract(_ body: (ContractTestServer, NotificationSender, NotificationSender) async throws -> Void) async throws {
        try await LiveFixtures.withClient { client in
            let contract = try await ContractTestServer(client: client)
            defer { contract.stop() }
            var pagerDuty = PagerDutyConfig(routingKey: Secret(ContractTestServer.pagerDutyKey))
            pagerDuty.apiBase = contract.base
            var opsgenie = OpsgenieConfig(apiKey: Secret(ContractTestServer.opsgenieKey))
            opsgenie.apiBase = contract.base
            try await body(contract, LiveFixtures.sender(.pagerDuty(pagerDuty), client: client, timeout: .seconds(2)),
                           LiveFixtures.sender(.opsgenie(opsgenie), client: client, timeout: .seconds(2)))
        }
    }

    @Test("PagerDuty: trigger, acknowledge and resolve of one outage share its dedup key; the contract accepts each")
    func pagerDutyLifecycle() async throws {
        try await withContract { contract, pagerDuty, _ in
            for kind in ["trigger", "repeat", "acknowledge", "resolve"] {
                let id = try await pagerDuty.send(LiveFixtures.notification(kind), incident: LiveFixtures.incident)
                #expect(id == "tugboat-group-5")
            }
            let requests = try await contract.requests()
            #expect(requests.map { $0["kind"] as? String } == Array(repeating: "pagerduty", count: 4))
            #expect(requests.map { $0["status"] as? Int } == [202, 202, 202, 202])
            let fields = requests.compactMap { $0["fields"] as? [String: String] }
            #expect(fields.map { $0["event_action"] } == ["trigger", "trigger", "acknowledge", "resolve"])
            #expect(Set(fields.compactMap { $0["dedup_key"] }) == ["tugboat-group-5"])
            #expect(fields[0]["payload.severity"] == "critical" && fields[0]["payload.source"] == "tugboat")
        }
    }

    @Test("PagerDuty: a 500 is retryable, a 400 permanent with PagerDuty's message, a wrong routing key permanent")
    func pagerDutyFailures() async throws {
        try await withContract { contract, pagerDuty, _ in
            try await contract.fail("500")
            guard case .retryable(let serverError, _) = await LiveFixtures.deliveryError(pagerDuty, LiveFixtures.notification()) else {
                Issue.record("500 not retryable")
                return
            }
            #expect(serverError.hasPrefix("PagerDuty HTTP 500"))
            try await contract.fail("429")
            guard case .retryable = await LiveFixtures.deliveryError(pagerDuty, LiveFixtures.notification()) else { Issue.record("429 not retryable"); return }
            try await contract.fail("400")
            let refused = await LiveFixtures.deliveryError(pagerDuty, LiveFixtures.notification())
            #expect(refused == .permanent("PagerDuty HTTP 400: Event object is invalid (Injected failure: event refused)"))
            try await contract.fail("timeout")
            guard case .retryable = await LiveFixtures.deliveryError(pagerDuty, LiveFixtures.notification()) else { Issue.record("timeout not retryable"); return }
            #expect(await LiveFixtures.deliveryError(pagerDuty, LiveFixtures.notification()) == nil)  // failures used up

            var wrongKey = PagerDutyConfig(routingKey: Secret("not-the-key"))
            wrongKey.apiBase = contract.base
            let sender = LiveFixtures.sender(.pagerDuty(wrongKey), client: contract.client)
            let error = await LiveFixtures.deliveryError(sender, LiveFixtures.notification())
            #expect(error == .permanent("PagerDuty HTTP 400: Event object is invalid (Invalid routing key)"))
            #expect(try await contract.requests().map { $0["status"] as? Int } == [500, 429, 400, 0, 202, 400])
        }
    }

    @Test("Opsgenie: create by alias, acknowledge and close by alias; the request id comes back")
    func opsgenieLifecycle() async throws {
        try await withContract { contract, _, opsgenie in
            var ids: [String?] = []
            for kind in ["trigger", "escalation", "acknowledge", "resolve"] {
                ids.append(try await opsgenie.send(LiveFixtures.notification(kind, text: String(repeating: "long text ", count: 40)),
                                                   incident: LiveFixtures.incident))
            }
            let requests = try await contract.requests()
            #expect(requests.map { $0["kind"] as? String } == ["opsgenie-create", "opsgenie-create", "opsgenie-ack", "opsgenie-close"])
            #expect(requests.map { $0["status"] as? Int } == [202, 202, 202, 202])
            let fields = requests.compactMap { $0["fields"] as? [String: String] }
            #expect(ids == fields.map { $0["requestId"] })
            #expect(fields[0]["alias"] == "tugboat-group-5" && fields[0]["priority"] == "P1")
            #expect(fields[2]["identifier"] == "tugboat-group-5" && fields[3]["identifier"] == "tugboat-group-5")
            #expect(fields[2]["source"] == "tugboat")
        }
    }

    @Test("Opsgenie: a 500 is retryable; 400, 422 and a wrong key (401) are permanent, without the key in the error")
    func opsgenieFailures() async throws {
        try await withContract { contract, _, opsgenie in
            try await contract.fail("500")
            guard case .retryable = await LiveFixtures.deliveryError(opsgenie, LiveFixtures.notification()) else { Issue.record("500 not retryable"); return }
            try await contract.fail("400")
            #expect(await LiveFixtures.deliveryError(opsgenie, LiveFixtures.notification()) == .permanent("Opsgenie HTTP 400: Injected failure: request refused"))
            try await contract.fail("422")
            #expect(await LiveFixtures.deliveryError(opsgenie, LiveFixtures.notification()) ==
                .permanent("Opsgenie HTTP 422: Request body is not processable. Please check the errors. (message: Injected failure)"))
            try await contract.fail("429")
            guard case .retryable = await LiveFixtures.deliveryError(opsgenie, LiveFixtures.notification()) else { Issue.record("429 not retryable"); return }

            var wrongKey = OpsgenieConfig(apiKey: Secret("wrong-genie-key"))
            wrongKey.apiBase = contract.base
            let error = await LiveFixtures.deliveryError(LiveFixtures.sender(.opsgenie(wrongKey), client: contract.client), LiveFixtures.notification())
            #expect(error == .permanent("Opsgenie HTTP 401: Could not authenticate"))
            #expect(try await contract.requests().map { $0["status"] as? Int } == [500, 400, 422, 429, 401])
        }
    }
}
