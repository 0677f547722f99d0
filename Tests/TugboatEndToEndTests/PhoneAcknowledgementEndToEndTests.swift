import Foundation
import Testing

/// Acknowledging from the phone with a real `tugboat serve`: the pages carry the code, and a
/// signed reply from the contract server (Twilio's stand-in) acknowledges the outage.
@Suite("Acknowledging from the phone end to end", .serialized)
struct PhoneAcknowledgementEndToEndTests {
    @Test("a real tugboat: the SMS says `Reply ACK <code>`, the call gathers a digit; the reply acknowledges the outage")
    func replyAcknowledges() async throws {
        let contract = try ContractServer()
        let top = contract.monitorYAML + "alerts:\n  public-url: https://tugboat.example\n  retry: { first: 100ms, max: 300ms }\n  timeout: 1s\n"
            + "  startup-grace: 0s\n  group: { wait: 0s }\n"
            + contract.channelsYAML() + "\n  rules:\n    - { name: front-down, monitor: front, condition: down, channels: [call, sms] }\n"
        let tugboat = try TugboatUnderTest(backends: [], extraTop: top, environment: ["TEST_TWILIO_TOKEN": ContractServer.authToken])
        try await offThePool {
            try contract.waitForChecks(3)
            try contract.setHealth(up: false)
            do {
                try waitUntilBlocking("the call and the SMS") { try contract.accepted("call").count == 1 && contract.accepted("sms").count == 1 }
            } catch {
                throw TestFailure("\(error); tugboat's log:\n" + tugboat.child.lines.suffix(30).joined(separator: "\n"))
            }
        }
        let (sms, call) = try await offThePool {
            (try contract.accepted("sms")[0]["fields"] as? [String: String] ?? [:], try contract.accepted("call")[0]["fields"] as? [String: String] ?? [:])
        }
        let body = try #require(sms["Body"])
        let match = try #require(body.firstMatch(of: /Reply ACK (\d+) to acknowledge\.$/))
        let code = String(match.1)
        #expect(call["Twiml"]?.contains("action=\"https://tugboat.example/api/twilio/voice?code=\(code)\"") == true)

        let answer = try await contract.callBack("reply", [
            "url": "http://127.0.0.1:\(tugboat.adminPort)/api/twilio/sms", "signed-url": "https://tugboat.example/api/twilio/sms",
            "from": "+15550100001", "to": "+15550100000", "body": "ack \(code)", "signature": "valid",
        ])
        #expect(answer.status == 200)
        #expect(answer.body.hasPrefix("<Response><Message>Acknowledged #\(code):"))
        try await offThePool {
            try waitUntilBlocking("the incident to be acknowledged") { try tugboat.incidents().first?["state"] as? String == "acknowledged" }
        }
        let again = try await contract.callBack("press", [
            "url": "http://127.0.0.1:\(tugboat.adminPort)/api/twilio/voice?code=\(code)",
            "signed-url": "https://tugboat.example/api/twilio/voice?code=\(code)", "digits": "1", "signature": "valid",
        ])
        #expect(again.body == "<Response><Say>Outage \(code) was already acknowledged.</Say></Response>")
        #expect(!tugboat.child.lines.joined().contains(ContractServer.authToken))
    }
}
