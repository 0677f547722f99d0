import Foundation
import Testing
import TugboatAdmin
import TugboatAlerts
import TugboatCore

/// Acknowledging from the phone: the admin listener's Twilio callback routes on a real listener,
/// called by the `tugboat-contract` server the way Twilio calls back (form fields, signed).
/// Tugboat's public URL is `https://tugboat.example` (a TLS proxy in front of it, as in
/// production): the contract posts to 127.0.0.1 and signs the public URL, as Twilio would.
@Suite("Twilio callbacks: acknowledging from the phone", .serialized)
struct TwilioCallbackRouteTests {
    static let publicURL = "https://tugboat.example"
    static let person = "+15550100001", tugboatNumber = "+15550100000"

    let contract: ContractServer
    let logs = LogLines()

    init() throws { contract = try ContractServer() }

    func settings(publicURL: String? = Self.publicURL) -> TwilioCallbackSettings {
        TwilioCallbackSettings(publicURL: publicURL,
                               accounts: [.init(accountSID: ContractServer.accountSID, authToken: Secret(ContractServer.authToken))],
                               recipients: [Self.person])
    }

    /// `/_contract/reply`: an SMS from `from` to Tugboat's number, posted to the listener.
    func reply(_ port: Int, _ body: String, from: String = person, signature: String = "valid",
               signedURL: String? = "\(publicURL)/api/twilio/sms", extra: [String: String] = [:])
        async throws -> (status: Int, body: String, contentType: String?) {
        var fields = ["url": "http://127.0.0.1:\(port)/api/twilio/sms", "from": from, "to": Self.tugboatNumber, "body": body,
                      "signature": signature]
        fields["signed-url"] = signedURL
        return try await contract.callBack("reply", fields.merging(extra) { $1 })
    }

    /// `/_contract/press`: the call's `<Gather>` result, Tugboat's call to the person.
    func press(_ port: Int, _ digits: String, code: String = "12", signature: String = "valid", signedCode: String? = nil)
        async throws -> (status: Int, body: String, contentType: String?) {
        try await contract.callBack("press", [
            "url": "http://127.0.0.1:\(port)/api/twilio/voice?code=\(code)", "digits": digits,
            "from": Self.tugboatNumber, "to": Self.person, "signature": signature,
            "signed-url": "\(Self.publicURL)/api/twilio/voice?code=\(signedCode ?? code)",
        ])
    }

    /// No log line carries the auth token or anything shaped like a signature (28 base64 characters).
    func expectNoSecretsLogged() {
        let lines = logs.all
        #expect(!lines.contains { $0.contains(ContractServer.authToken) })
        #expect(!lines.contains { $0.range(of: "[A-Za-z0-9+/]{27}=", options: .regularExpression) != nil })
    }

    @Test("a signed `ACK 12` acknowledges outage 12 for the number that sent it; a second says it already was")
    func acknowledgeBySMS() async throws {
        let acknowledger = FakeAcknowledger(open: [12: "front-down on pool default"])
        try await withCallbackListener(settings: settings(), acknowledger: acknowledger, logs: logs) { port in
            let first = try await reply(port, "  ack #12 \n")
            #expect(first.status == 200)
            #expect(first.body == "<Response><Message>Acknowledged #12: front-down on pool default</Message></Response>")
            #expect(first.contentType?.hasPrefix("text/xml") == true)
            #expect(acknowledger.calls == ["12 by \(Self.person)"])
            let second = try await reply(port, "ACK 12")
            #expect(second.status == 200)
            #expect(second.body == "<Response><Message>#12 was already acknowledged: front-down on pool default</Message></Response>")
        }
        #expect(logs.all.contains { $0.contains("acknowledge by SMS") && $0.contains("\"outcome\": acknowledged") })
        expectNoSecretsLogged()
    }

    @Test("settings replaced by a config reload reach the next callback: a number added to a Twilio channel may acknowledge")
    func replacedSettings() async throws {
        let acknowledger = FakeAcknowledger(open: [12: "front-down"])
        var before = settings()
        before.recipients = []
        let callbacks = TwilioCallbacks(before)
        try await withCallbackListener(callbacks: callbacks, acknowledger: acknowledger, logs: logs) { port in
            _ = try await reply(port, "ACK 12")
            #expect(acknowledger.calls.isEmpty, "a number Tugboat does not page")
            callbacks.replace(settings())
            #expect(try await reply(port, "ACK 12").status == 200)
            #expect(acknowledger.calls == ["12 by \(Self.person)"])
        }
    }

    @Test("a wrong or missing signature, another URL's signature or an unknown account: 403, a warning, nothing acknowledged",
          arguments: ["wrong", "missing", "other-url", "other-account"])
    func refused(_ how: String) async throws {
        let acknowledger = FakeAcknowledger(open: [12: "front-down"])
        try await withCallbackListener(settings: settings(), acknowledger: acknowledger, logs: logs) { port in
            let answer: (status: Int, body: String, contentType: String?)
            switch how {
            case "other-url": answer = try await reply(port, "ACK 12", signedURL: nil)  // signs http://127.0.0.1:…, not the public URL
            case "other-account": answer = try await reply(port, "ACK 12", extra: ["account-sid": "AC" + String(repeating: "9", count: 32)])
            default: answer = try await reply(port, "ACK 12", signature: how)
            }
            #expect(answer.status == 403)
            #expect(!answer.body.contains("Acknowledged"))
        }
        #expect(acknowledger.calls.isEmpty)
        #expect(logs.all.contains { $0.hasPrefix("warning Twilio callback refused") && $0.contains("/api/twilio/sms") })
        expectNoSecretsLogged()
    }

    @Test("an unknown code or a body that is not `ACK <code>` gets a polite explanation and changes nothing")
    func politeAnswers() async throws {
        let acknowledger = FakeAcknowledger(open: [12: "front-down"], resolved: [5: "old outage"])
        try await withCallbackListener(settings: settings(), acknowledger: acknowledger, logs: logs) { port in
            let garbled = try await reply(port, "hello, what is this?")
            #expect(garbled.status == 200)
            #expect(garbled.body.hasPrefix("<Response><Message>Sorry, Tugboat did not understand that."))
            #expect(garbled.body.contains("reply ACK and the code the page gave"))
            #expect(acknowledger.calls.isEmpty)

            let unknown = try await reply(port, "ACK 99")
            #expect(unknown.status == 200)
            #expect(unknown.body.contains("Tugboat has no outage #99, so nothing was acknowledged."))
            let resolved = try await reply(port, "ACK 5")
            #expect(resolved.body.contains("#5 is already resolved"))
            #expect(acknowledger.calls == ["99 by \(Self.person)", "5 by \(Self.person)"])  // asked; nothing open matched
        }
    }

    @Test("a number Tugboat does not page cannot acknowledge, even with Twilio's signature")
    func strangerRefused() async throws {
        let acknowledger = FakeAcknowledger(open: [12: "front-down"])
        try await withCallbackListener(settings: settings(), acknowledger: acknowledger, logs: logs) { port in
            let answer = try await reply(port, "ACK 12", from: "+15550199999")
            #expect(answer.status == 200)
            #expect(answer.body.contains("not one Tugboat pages"))
        }
        #expect(acknowledger.calls.isEmpty)
        #expect(logs.all.contains { $0.hasPrefix("warning") && $0.contains("does not page") })
    }

    @Test("without alerts.public-url every callback is refused, even a correctly signed one")
    func noPublicURL() async throws {
        let acknowledger = FakeAcknowledger(open: [12: "front-down"])
        try await withCallbackListener(settings: settings(publicURL: nil), acknowledger: acknowledger, logs: logs) { port in
            let sms = try await reply(port, "ACK 12", signedURL: nil), call = try await press(port, "1")
            #expect(sms.status == 403)
            #expect(call.status == 403)
        }
        #expect(acknowledger.calls.isEmpty)
        #expect(logs.all.contains { $0.contains("alerts.public-url is not set") })
    }

    @Test("pressing 1 in the call acknowledges for the person called; another key, a wrong signature or a changed code do not")
    func acknowledgeByCall() async throws {
        let acknowledger = FakeAcknowledger(open: [12: "front-down", 13: "other"])
        try await withCallbackListener(settings: settings(), acknowledger: acknowledger, logs: logs) { port in
            let other = try await press(port, "2")
            #expect(other.status == 200)
            #expect(other.body == "<Response><Say>Not acknowledged.</Say></Response>")
            #expect(try await press(port, "1", signature: "wrong").status == 403)
            #expect(try await press(port, "1", code: "13", signedCode: "12").status == 403)  // the code is under the signature
            #expect(acknowledger.calls.isEmpty)

            let pressed = try await press(port, "1")
            #expect(pressed.status == 200)
            #expect(pressed.body == "<Response><Say>Outage 12 acknowledged. Thank you.</Say></Response>")
            #expect(pressed.contentType?.hasPrefix("text/xml") == true)
            #expect(acknowledger.calls == ["12 by \(Self.person)"])
        }
        expectNoSecretsLogged()
    }

    @Test("a body over 64 KiB is refused with 413 before anything else")
    func oversized() async throws {
        let acknowledger = FakeAcknowledger(open: [12: "front-down"])
        try await withCallbackListener(settings: settings(), acknowledger: acknowledger, logs: logs) { port in
            let body = "Body=" + String(repeating: "A", count: 70 << 10)
            let response = try await offThePool {
                try TestHTTPClient(port: port, timeout: 15).request(
                    "POST", "/api/twilio/sms", headers: ["Content-Type": "application/x-www-form-urlencoded", "Connection": "close"], body: body)
            }
            #expect(response.status == 413)
        }
        #expect(acknowledger.calls.isEmpty)
    }

    @Test("the contract server takes the call's <Gather> TwiML as Tugboat writes it, and refuses a relative action")
    func contractAcceptsGather() async throws {
        func call(_ twiml: String) async throws -> Int {
            let form = FormFields.encode([("To", Self.person), ("From", Self.tugboatNumber), ("Twiml", twiml)])
            let credentials = Data("\(ContractServer.accountSID):\(ContractServer.authToken)".utf8).base64EncodedString()
            let port = contract.port
            return try await offThePool {
                try TestHTTPClient(port: port).request(
                    "POST", "/2010-04-01/Accounts/\(ContractServer.accountSID)/Calls.json",
                    headers: ["Authorization": "Basic \(credentials)", "Content-Type": "application/x-www-form-urlencoded", "Connection": "close"],
                    body: form).status
            }
        }
        let twiml = Message.twiml("[tugboat] FIRING #1 front-down", acknowledgeCode: 12, publicURL: Self.publicURL)
        #expect(try await call(twiml) == 201)
        let relative = twiml.replacingOccurrences(of: "\(Self.publicURL)/api", with: "/api")
        #expect(try await call(relative) == 400)
        let server = contract
        let accepted = try await offThePool { try server.accepted("call").compactMap { $0["fields"] as? [String: String] } }
        let call = try #require(accepted.first)
        #expect(call["Twiml"]?.contains("action=\"https://tugboat.example/api/twilio/voice?code=12\"") == true)
    }
}
