import Foundation
import Logging
import Testing
import TugboatProxy
@testable import TugboatACME

/// The order flow against scripted answers: what a broken or hostile server gets is an error
/// that says what happened, never a crash and never a bad token served.
@Suite("ACME issuer: hostile answers")
struct ACMEIssuerTests {
    static func answer(_ status: Int, _ body: String, location: String? = nil) -> ACMEResponse {
        var headers = ["replay-nonce": "n\(UUID().uuidString.prefix(8))"]
        if let location { headers["location"] = location }
        return ACMEResponse(status: status, headers: headers, body: Data(body.utf8))
    }

    /// Directory, nonce, account, order with one authorization, then `authorization`.
    static func script(authorization: String) -> [ACMEResponse] {
        [
            ACMEClientTests.directory, ACMEClientTests.nonce,
            answer(201, "{}", location: "https://ca.test/acct/1"),
            answer(201, #"{"status":"pending","authorizations":["https://ca.test/authz/1"],"finalize":"https://ca.test/fin/1"}"#,
                   location: "https://ca.test/order/1"),
            answer(200, authorization),
        ]
    }

    @Test("a challenge token that is not base64url, a missing http-01 challenge, an invalid authorization", arguments: [
        (#"{"status":"pending","identifier":{"type":"dns","value":"a.test"},"challenges":[{"type":"http-01","url":"https://ca.test/ch/1","token":"../../etc/passwd","status":"pending"}]}"#,
         "http-01 token missing or not base64url"),
        (#"{"status":"pending","identifier":{"type":"dns","value":"a.test"},"challenges":[{"type":"dns-01","url":"https://ca.test/ch/1","token":"abc","status":"pending"}]}"#,
         "a.test: the server offers no http-01 challenge"),
        (#"{"status":"invalid","identifier":{"type":"dns","value":"a.test"},"challenges":[]}"#,
         "validation failed: a.test: authorization invalid"),
        (#"{"status":"pending","identifier":{"type":"dns"},"challenges":[]}"#,
         "authorization: not the expected JSON"),
    ])
    func hostile(authorization: String, expected: String) async {
        let transport = ScriptedTransport(Self.script(authorization: authorization))
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: transport, key: AccountKey())
        let challenges = ACMEChallenges()
        challenges.listenerReady()
        let issuer = ACMEIssuer(client: client, challenges: challenges, logger: Logger(label: "test"))
        do {
            _ = try await issuer.obtain(domains: ["a.test"], email: "ops@example.com")
            Issue.record("no error")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
        }
        // Nothing was sent to the challenge URL for a refused token.
        #expect(!transport.sent.withLock { $0 }.contains { $0.url == "https://ca.test/ch/1" })
    }
}
